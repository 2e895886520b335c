#!/usr/bin/python3
"""XXH64 (seed 0) of float32 tensors' bytes, concatenated in order, for tests/dist/single.lua.

Needs Debian's python3-xxhash and python3-numpy. Writes xxh64_fixture.txt: one line
"case hex" per case; single.lua builds the same tensors and compares ss.dist.hash.
"""
import os
import numpy as np
import xxhash


def f32(values):
    return np.asarray(values, dtype=np.float64).astype(np.float32)


CASES = {
    # no bytes: XXH64's empty input
    "empty": [],
    # 4 bytes: shorter than one 32-byte stripe
    "one": [f32([1.5])],
    # 36 bytes: one stripe plus a 4-byte tail
    "nine": [f32(np.arange(9) * 0.25 - 1)],
    # 232 bytes in three tensors whose edges fall inside stripes
    "three": [f32(np.arange(5)), f32(np.arange(13) * -0.5), f32(np.arange(40) / 7)],
}

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "xxh64_fixture.txt"), "w") as f:
    for name, tensors in CASES.items():
        data = b"".join(t.astype("<f4").tobytes() for t in tensors)
        f.write(f"{name} {xxhash.xxh64(data, seed=0).hexdigest()}\n")
