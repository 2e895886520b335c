"""ssfx.py — writer of the SSFX fixture files that tests/c/fixture.h reads:
"SSFX", uint32 count, then per array: uint32 name length, name (ASCII),
uint32 ndim, int64 shape[ndim], float32 data, all little-endian."""
import os
import struct

import numpy as np


def write(directory, name, arrays):
    """Writes arrays, a list of (name, ndarray), to directory/name as float32."""
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(b"SSFX")
        f.write(struct.pack("<I", len(arrays)))
        for key, a in arrays:
            a = np.ascontiguousarray(a, dtype="<f4")
            kb = key.encode("ascii")
            f.write(struct.pack("<I", len(kb)))
            f.write(kb)
            f.write(struct.pack("<I", a.ndim))
            f.write(struct.pack("<%dq" % a.ndim, *a.shape))
            f.write(a.tobytes())
    print("%-28s %3d arrays %8d bytes" % (name, len(arrays), os.path.getsize(path)))
