#!/usr/bin/python3
"""make_checkpoint_fixtures.py — safetensors files as PyTorch tooling writes them, for
tests/lua/checkpoint_spec.lua and tests/c/test_safetensors.c.

Run with Debian's system python (torch 1.13 CPU, numpy 1.24):
    /usr/bin/python3 tests/reference/make_checkpoint_fixtures.py
It rewrites tests/reference/checkpoint/*; the files are committed, so tests never need Python.

The writer. When the `safetensors` package is importable (for instance in a venv made with
    /usr/bin/python3 -m venv --system-site-packages /tmp/stvenv
    /tmp/stvenv/bin/pip install --no-index <path>/safetensors-*.whl
and the script run with /tmp/stvenv/bin/python), the files come from
safetensors.torch.save_file. Without it the script writes them itself with
`save_file_reference` below, which follows the format and the reference implementation's
layout (safetensors/src/tensor.rs, `prepare`/`serialize`): entries sorted by dtype, largest
first in the crate's Dtype order, then by name; data contiguous from offset 0 in that order;
the header compact JSON (serde_json: no spaces, non-ASCII as UTF-8) with "__metadata__"
first, each entry {"dtype","shape","data_offsets"}, padded with spaces to a multiple of 8;
an 8-byte little-endian header length in front. The fixtures committed now were written
this way: no safetensors wheel was available on the machine that made them (the script
prints which writer it used, and stores it in no file, so both give identical bytes except
for the order of metadata keys, which the crate takes from a hash map).

Files:
  torch_mixed.safetensors  the dtypes PyTorch checkpoints use (F32, F16, BF16, F64 and a
                           0-d scalar) plus string metadata:
                             arange_f32  torch.arange(24).reshape(2, 3, 4), float32
                             weight_f32  N(0,1) (2, 3, 3, 3), float32
                             weight_f16  N(0,1) (5, 4) rounded to float16, with -0, 65504,
                                         2^-24 (smallest subnormal) and 1/3 in row 0
                             weight_bf16 N(0,1) (3, 5) rounded to bfloat16, with -0 and 1/3
                             table_f64   linspace(-1, 1, 7) / 3, float64
                             scalar_f32  torch.tensor(3.5): shape []
                           metadata: format=pt, step=1000, note=<UTF-8, quotes, newline>
  torch_mixed.ssfx         the same tensors converted by torch to float32 (.float()), the
                           expected result of loading each entry; scalar_f32 as shape (1,)
  torch_nometa.safetensors one F32 tensor "w" = arange(6).reshape(2, 3) / 8, no metadata
  ref_f32.safetensors      what ss.checkpoint.save must reproduce byte for byte:
                           a = arange(6).reshape(2, 3) / 4, b = (-1.5, 0, 2.25, 1e-3),
                           c = arange(4).reshape(1, 1, 2, 2) (names sorted, all F32),
                           metadata {"epoch": "3"} followed by the checksums scalespace
                           adds, "ss.crc32c.<name>": CRC-32C of the tensor's bytes as
                           8 lowercase hex digits
"""
import json
import os
import struct

import numpy as np
import torch

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint")

try:
    from safetensors.torch import save_file as _st_save_file
    import safetensors

    WRITER = "safetensors.torch.save_file (safetensors %s)" % safetensors.__version__
except ImportError:
    _st_save_file = None
    WRITER = "save_file_reference (this script; no safetensors package)"

# safetensors' Dtype enum order (tensor.rs), for the "largest alignment first" sort.
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
               "F64", "I64", "U64"]
TORCH_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def tensor_bytes(t):
    """The little-endian C-order bytes of a CPU tensor (bfloat16 through an int16 view)."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().tobytes()


def crc32c(data):
    """CRC-32C (Castagnoli, reflected 0x82F63B78), bit by bit."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def save_file_reference(tensors, path, metadata=None):
    """safetensors.torch.save_file's layout, written without the package."""
    items = sorted(tensors.items(), key=lambda kv: (-DTYPE_ORDER.index(TORCH_DTYPES[kv[1].dtype]), kv[0]))
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
        header["__metadata__"] = metadata
    for name, t in items:
        data = tensor_bytes(t)
        header[name] = {"dtype": TORCH_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def save(tensors, name, metadata=None):
    path = os.path.join(OUT, name)
    if _st_save_file is not None:
        _st_save_file(tensors, path, metadata=metadata)
    else:
        save_file_reference(tensors, path, metadata)
    print("%-28s %3d tensors %8d bytes" % (name, len(tensors), os.path.getsize(path)))


def main():
    os.makedirs(OUT, exist_ok=True)
    print("writer:", WRITER)
    g = torch.Generator().manual_seed(20250301)

    f16 = torch.randn(5, 4, generator=g)
    f16[0, :4] = torch.tensor([-0.0, 65504.0, 2.0 ** -24, 1.0 / 3.0])
    bf16 = torch.randn(3, 5, generator=g)
    bf16[0, :2] = torch.tensor([-0.0, 1.0 / 3.0])
    mixed = {
        "arange_f32": torch.arange(24, dtype=torch.float32).reshape(2, 3, 4),
        "weight_f32": torch.randn(2, 3, 3, 3, generator=g),
        "weight_f16": f16.half(),
        "weight_bf16": bf16.bfloat16(),
        "table_f64": torch.linspace(-1, 1, 7, dtype=torch.float64) / 3,
        "scalar_f32": torch.tensor(3.5),
    }
    meta = {"format": "pt", "step": "1000", "note": "σ = 0.5, \"quoted\"\nsecond line"}
    save(mixed, "torch_mixed.safetensors", meta)
    expected = [(k, v.float().reshape(-1) if v.dim() == 0 else v.float()) for k, v in sorted(mixed.items())]
    ssfx.write(OUT, "torch_mixed.ssfx", [(k, v.numpy()) for k, v in expected])

    save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 8}, "torch_nometa.safetensors")

    ref = {
        "a": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
        "b": torch.tensor([-1.5, 0.0, 2.25, 1e-3], dtype=torch.float32),
        "c": torch.arange(4, dtype=torch.float32).reshape(1, 1, 2, 2),
    }
    meta = {"epoch": "3"}
    meta.update(("ss.crc32c." + k, "%08x" % crc32c(tensor_bytes(v))) for k, v in sorted(ref.items()))
    save(ref, "ref_f32.safetensors", meta)


if __name__ == "__main__":
    main()
