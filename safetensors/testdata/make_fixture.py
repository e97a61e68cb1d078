"""Writes fixture.safetensors byte by byte with NumPy, the way the safetensors
library lays a file out (the safetensors package itself is not installed):
tensors sorted by dtype, widest first, then by name; a compact JSON header
with __metadata__ first, padded with spaces to a multiple of 8 bytes.

Run from this folder: /usr/bin/python3 make_fixture.py
"""
import json
import struct

import numpy as np


def bf16(values):
    """bfloat16 bits of float32 values that bfloat16 holds exactly."""
    bits = np.asarray(values, dtype="<f4").view("<u4") >> 16
    return bits.astype("<u2")


tensors = [  # (name, dtype, shape, little-endian bytes)
    ("steps", "I64", [3], np.array([1, 2, -3], dtype="<i8").tobytes()),
    ("scale", "F64", [], np.array(0.1, dtype="<f8").tobytes()),
    ("empty", "F32", [0, 4], b""),
    ("w1", "F32", [2, 3], (np.arange(6, dtype="<f4").reshape(2, 3) / 8 - 0.25).tobytes()),
    ("bf", "BF16", [2, 2], bf16([1.0, -0.5, 3.140625, 2.0**-133]).tobytes()),
    ("half", "F16", [8], np.array([0.0, -0.0, 1.0, 65504.0, 2.0**-24, np.inf, -np.inf, -2.5], dtype="<f2").tobytes()),
    ("mask", "BOOL", [2], np.array([True, False]).tobytes()),
]

header = {"__metadata__": {"format": "pt", "note": "written by make_fixture.py"}}
offset = 0
for name, dtype, shape, data in tensors:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
    offset += len(data)
js = json.dumps(header, separators=(",", ":")).encode()
js += b" " * (-len(js) % 8)
with open("fixture.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(js)))
    f.write(js)
    for _, _, _, data in tensors:
        f.write(data)
