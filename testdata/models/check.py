#!/usr/bin/python3
"""Verify the files export.py wrote, without PyTorch and without onnxruntime.

    /usr/bin/python3 testdata/models/check.py

For every .onnx model: onnx.checker (full check, external data resolved),
then an independent numpy evaluation of the graph (float64, written from the
ONNX operator specs) on <model>_data/input_0.pb, compared with output_0.pb.
Also: the safetensors file against mlp20_default.onnx's initializers, the .npy
input against input_0.pb, the fp16 and float_data encodings against
mlp20_kaiming.onnx, and the weight laws (fan_in * Var(W)) read from the ONNX
initializers. Exits 1 on the first failure.
"""

import glob
import json
import math
import os
import struct
import sys

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    sys.exit("FAIL: " + msg)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# ---------------------------------------------------------------- operators


def pad_spatial(x, pads, value=0.0):
    """pads = [b1, b2, ..., e1, e2, ...] over the spatial axes of an NC... tensor."""
    k = len(pads) // 2
    width = [(0, 0), (0, 0)] + [(pads[i], pads[i + k]) for i in range(k)]
    return np.pad(x, width, constant_values=value)


def windows(x, kernel, strides, dilations):
    """[N, C, out_h, out_w, kh, kw] views of a padded NCHW tensor."""
    kh, kw = kernel
    dh, dw = dilations
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    v = sliding_window_view(x, span, axis=(2, 3))[:, :, ::strides[0], ::strides[1], ::dh, ::dw]
    return v


def conv(x, w, b, a):
    groups = a.get("group", 1)
    kernel = list(w.shape[2:])
    strides = a.get("strides", [1, 1])
    dil = a.get("dilations", [1, 1])
    x = pad_spatial(x, a.get("pads", [0, 0, 0, 0]))
    cin = x.shape[1] // groups
    cout = w.shape[0] // groups
    outs = []
    for g in range(groups):
        v = windows(x[:, g * cin:(g + 1) * cin], kernel, strides, dil)
        outs.append(np.einsum("nchwij,ocij->nohw", v, w[g * cout:(g + 1) * cout]))
    y = np.concatenate(outs, axis=1)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def pool(x, a, reduce):
    pads = a.get("pads", [0, 0, 0, 0])
    kernel = a["kernel_shape"]
    strides = a.get("strides", [1, 1])
    if reduce == "max":
        v = windows(pad_spatial(x, pads, -np.inf), kernel, strides, [1, 1])
        return v.max(axis=(4, 5))
    v = windows(pad_spatial(x, pads), kernel, strides, [1, 1])
    if any(pads) and not a.get("count_include_pad", 0):
        ones = windows(pad_spatial(np.ones_like(x), pads), kernel, strides, [1, 1])
        return v.sum(axis=(4, 5)) / ones.sum(axis=(4, 5))
    return v.mean(axis=(4, 5))


def pad(node, env, a):
    x = env[node.input[0]]
    pads = a["pads"] if "pads" in a else env[node.input[1]].astype(int).tolist()
    if a.get("mode", b"constant") != b"constant":
        fail("%s: Pad mode %s not evaluated" % (node.name, a["mode"]))
    k = x.ndim
    value = a.get("value", 0.0)
    if len(node.input) > 2 and node.input[2]:
        value = float(env[node.input[2]])
    return np.pad(x, [(pads[i], pads[i + k]) for i in range(k)], constant_values=value)


def gemm(x, w, c, a):
    if a.get("transA", 0):
        x = x.T
    if a.get("transB", 0):
        w = w.T
    y = a.get("alpha", 1.0) * (x @ w)
    return y if c is None else y + a.get("beta", 1.0) * c


def batchnorm(x, scale, bias, mean, var, a):
    axes = (0,) + tuple(range(2, x.ndim))
    if a.get("training_mode", 0):
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    r = lambda t: t.reshape(shape)  # noqa: E731
    return (x - r(mean)) / np.sqrt(r(var) + a.get("epsilon", 1e-5)) * r(scale) + r(bias)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ERF = np.vectorize(math.erf)

BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}
UNARY = {"Relu": lambda x: np.maximum(x, 0), "Sqrt": np.sqrt, "Erf": ERF, "Identity": lambda x: x}


def run_node(node, env):
    a = attrs(node)
    ins = [env[i] if i else None for i in node.input]
    op = node.op_type
    if op in BINARY:
        return BINARY[op](ins[0], ins[1])
    if op in UNARY:
        return UNARY[op](ins[0])
    if op == "Constant":
        return numpy_helper.to_array(a["value"]).astype(np.float64)
    if op == "Cast":
        if a["to"] != onnx.TensorProto.FLOAT:
            fail("%s: Cast to %d not evaluated" % (node.name, a["to"]))
        return ins[0].astype(np.float32).astype(np.float64)
    if op == "Gemm":
        return gemm(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
    if op == "MatMul":
        return ins[0] @ ins[1]
    if op == "Conv":
        return conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
    if op == "MaxPool":
        return pool(ins[0], a, "max")
    if op == "AveragePool":
        return pool(ins[0], a, "mean")
    if op == "GlobalAveragePool":
        return ins[0].mean(axis=tuple(range(2, ins[0].ndim)), keepdims=True)
    if op == "Flatten":
        axis = a.get("axis", 1)
        return ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
    if op == "Pad":
        return pad(node, env, a)
    if op == "BatchNormalization":
        return batchnorm(*ins[:5], a)
    if op == "ReduceMean":
        return ins[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
    if op == "Softmax":
        return softmax(ins[0], a.get("axis", -1))
    fail("%s: op %s not evaluated by check.py" % (node.name, op))


def evaluate(model, x):
    """The graph's first output on x, in float64."""
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        env[node.output[0]] = run_node(node, env)
    return env[model.graph.output[0].name]


# ---------------------------------------------------------------- checks


def read_pb(fname):
    t = onnx.TensorProto()
    with open(fname, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def check_model(fname):
    name = os.path.basename(fname)[:-len(".onnx")]
    onnx.checker.check_model(fname, full_check=True)
    model = onnx.load(fname)  # resolves external data relative to the file
    x = read_pb(os.path.join(HERE, name + "_data", "input_0.pb"))
    want = read_pb(os.path.join(HERE, name + "_data", "output_0.pb"))
    got = evaluate(model, x)
    if got.shape != want.shape:
        fail("%s: output shape %s, reference %s" % (name, got.shape, want.shape))
    # float32 reference vs float64 evaluation: relative error ~1e-6 per op.
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
    if err > 1e-4:
        fail("%s: max |numpy - torch| / max|torch| = %.2e > 1e-4" % (name, err))
    ops = []
    for n in model.graph.node:
        if n.op_type not in ops:
            ops.append(n.op_type)
    print("ok %-26s rel.err %.1e  ops: %s" % (name, err, " ".join(ops)))


def gemm_weights(fname):
    """The weight initializers of a model's Gemm nodes, in graph order."""
    m = onnx.load(fname)
    inits = {t.name: t for t in m.graph.initializer}
    return [inits[n.input[1]] for n in m.graph.node if n.op_type == "Gemm"]


def check_law(fname, want, label):
    """fan_in * Var(W) pooled over the hidden Gemm weights, against want within 5 standard errors."""
    ws = [numpy_helper.to_array(t).astype(np.float64) for t in gemm_weights(fname)]
    scaled = np.concatenate([(w * math.sqrt(w.shape[1])).ravel() for w in ws[1:-1]])
    var = scaled.var()
    se = math.sqrt(((scaled - scaled.mean()) ** 4).mean() - var ** 2) / math.sqrt(scaled.size)
    if abs(var - want) > 5 * se:
        fail("%s: fan_in*Var(W) = %.4f +- %.4f, want %s" % (fname, var, se, label))
    print("ok %-26s fan_in*Var(W) over hidden layers = %.4f +- %.4f (%s)"
          % (os.path.basename(fname), var, se, label))


def check_safetensors():
    fname = os.path.join(HERE, "mlp20_default.safetensors")
    with open(fname, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    if header.pop("__metadata__") != {"format": "pt"}:
        fail("safetensors: __metadata__ is not {format: pt}")
    onnx_inits = {t.name: numpy_helper.to_array(t)
                  for t in onnx.load(os.path.join(HERE, "mlp20_default.onnx")).graph.initializer}
    end = 0
    for key, info in header.items():
        lo, hi = info["data_offsets"]
        arr = np.frombuffer(raw[8 + n + lo:8 + n + hi], dtype="<f4").reshape(info["shape"])
        if info["dtype"] != "F32" or not np.array_equal(arr, onnx_inits[key]):
            fail("safetensors: %s differs from mlp20_default.onnx" % key)
        end = max(end, hi)
    if 8 + n + end != len(raw) or len(header) != len(onnx_inits):
        fail("safetensors: %d tensors, data ends at %d of %d bytes" % (len(header), 8 + n + end, len(raw)))
    print("ok mlp20_default.safetensors   %d tensors equal to mlp20_default.onnx's initializers" % len(header))


def check_encodings():
    base = {t.name: t for t in onnx.load(os.path.join(HERE, "mlp20_kaiming.onnx")).graph.initializer}
    for t in onnx.load(os.path.join(HERE, "mlp20_kaiming_typed.onnx")).graph.initializer:
        if t.HasField("raw_data") or len(t.float_data) == 0 or \
                not np.array_equal(numpy_helper.to_array(t), numpy_helper.to_array(base[t.name])):
            fail("mlp20_kaiming_typed: %s is not the same values in float_data" % t.name)
    for t in onnx.load(os.path.join(HERE, "mlp20_kaiming_fp16.onnx")).graph.initializer:
        want = numpy_helper.to_array(base[t.name]).astype(np.float16)
        if t.data_type != onnx.TensorProto.FLOAT16 or not np.array_equal(numpy_helper.to_array(t), want):
            fail("mlp20_kaiming_fp16: %s is not float16(mlp20_kaiming)" % t.name)
    ext = onnx.load(os.path.join(HERE, "mlp20_kaiming_external.onnx"), load_external_data=False)
    if any(t.data_location != onnx.TensorProto.EXTERNAL for t in ext.graph.initializer):
        fail("mlp20_kaiming_external: an initializer is stored inline")
    npy = np.load(os.path.join(HERE, "mlp20_default_data", "input_0.npy"))
    if not np.array_equal(npy, read_pb(os.path.join(HERE, "mlp20_default_data", "input_0.pb"))):
        fail("mlp20_default_data/input_0.npy differs from input_0.pb")
    print("ok encodings                   typed float_data, FLOAT16, external data, .npy input")


def main():
    for fname in sorted(glob.glob(os.path.join(HERE, "*.onnx"))):
        check_model(fname)
    check_law(os.path.join(HERE, "mlp20_default.onnx"), 1.0 / 3.0, "U(-1/sqrt(fan_in), 1/sqrt(fan_in)): 1/3")
    check_law(os.path.join(HERE, "mlp20_kaiming.onnx"), 2.0, "kaiming_normal_ relu: 2")
    check_safetensors()
    check_encodings()
    if "onnxruntime" in sys.modules or "torch" in sys.modules:
        fail("check.py imported onnxruntime or torch")
    print("all files verified without torch or onnxruntime")


if __name__ == "__main__":
    main()
