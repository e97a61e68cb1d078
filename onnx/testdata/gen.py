"""Writes the ONNX fixtures of package onnx's tests with ONNX's own Python
library, and expected.json, their values as NumPy reads them.

Run from this folder with Debian's Python (python3-onnx 1.12, numpy):
    /usr/bin/python3 gen.py

types.onnx       one initializer per element type and storage: raw_data
                 (numpy_helper.from_array) and the typed field
                 (helper.make_tensor), each read by an Identity node.
external.onnx    the raw_data initializers of types.onnx moved by
external.bin     onnx.save_model(save_as_external_data=True) into one file.
expected.json    {initializer name: [dtype, dims, values as repr strings]}.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, mapping, numpy_helper

F16 = np.array([0.0, -0.0, 1.0, -2.0, 1 / 3, 65504.0, 2.0**-24, 3 * 2.0**-24,
                6.097555160522461e-05, 6.103515625e-05, np.inf, -np.inf, np.nan, 0.1],
               dtype=np.float16).reshape(2, 7)
F32 = np.array([[1.5, -0.1, 3.4028234663852886e38], [1e-45, -0.0, np.inf]], dtype=np.float32)
F64 = np.array([np.pi, -1e-310, 1e300], dtype=np.float64)
BF16 = np.array([1.0, -3.140625, 0.1, 1e-39, 3e38, -np.inf], dtype=np.float32)
INTS = {
    TensorProto.INT8: np.array([-128, -1, 0, 127], dtype=np.int8),
    TensorProto.UINT8: np.array([0, 1, 200, 255], dtype=np.uint8),
    TensorProto.INT16: np.array([-32768, -7, 32767], dtype=np.int16),
    TensorProto.UINT16: np.array([0, 65535], dtype=np.uint16),
    TensorProto.INT32: np.array([-2**31, 5, 2**31 - 1], dtype=np.int32),
    TensorProto.UINT32: np.array([0, 2**32 - 1], dtype=np.uint32),
    TensorProto.INT64: np.array([[-2**63, 2**63 - 1], [0, 42]], dtype=np.int64),
    TensorProto.BOOL: np.array([True, False, True]),
}


def bf16_bits(a):
    """Rounds float32 values to bfloat16 (nearest even), as bit patterns."""
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def tensors():
    """Yields (tensor, values as NumPy reads them back)."""
    for name, a in [("f16", F16), ("f32", F32), ("f64", F64)]:
        t = numpy_helper.from_array(a, name + "_raw")
        yield t, a
        dt = mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype]
        yield helper.make_tensor(name + "_typed", dt, a.shape, a.flatten().tolist()), a
    bits = bf16_bits(BF16)
    raw = helper.make_tensor("bf16_raw", TensorProto.BFLOAT16, [2, 3], bits.tobytes(), raw=True)
    yield raw, numpy_helper.to_array(raw)
    typed = TensorProto(name="bf16_typed", data_type=TensorProto.BFLOAT16, dims=[2, 3])
    typed.int32_data.extend(int(b) for b in bits)
    yield typed, numpy_helper.to_array(typed)
    for dt, a in INTS.items():
        name = mapping.TENSOR_TYPE_TO_NP_TYPE[dt].name
        yield numpy_helper.from_array(a, name + "_raw"), a
        yield helper.make_tensor(name + "_typed", dt, a.shape, a.flatten().tolist()), a


def main():
    inits, expected, nodes, outputs = [], {}, [], []
    for t, a in tensors():
        back = numpy_helper.to_array(t)
        assert back.dtype == a.dtype and np.array_equal(back, a, equal_nan=a.dtype.kind == "f"), t.name
        inits.append(t)
        vals = [repr(float(v)) if back.dtype.kind == "f" else str(int(v)) for v in back.flatten()]
        expected[t.name] = [t.data_type, list(back.shape), vals]
        nodes.append(helper.make_node("Identity", [t.name], [t.name + "_out"], name="id_" + t.name))
        outputs.append(helper.make_tensor_value_info(t.name + "_out", t.data_type, list(back.shape)))
    graph = helper.make_graph(nodes, "types", [], outputs, inits)
    model = helper.make_model(graph, producer_name="gen.py", opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save_model(model, "types.onnx")
    if os.path.exists("external.bin"):  # save_model appends to it
        os.remove("external.bin")
    onnx.save_model(model, "external.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external.bin", size_threshold=0)
    with open("expected.json", "w") as f:
        lines = (json.dumps(k) + ": " + json.dumps(v) for k, v in sorted(expected.items()))
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


main()
