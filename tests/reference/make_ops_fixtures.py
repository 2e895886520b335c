#!/usr/bin/python3
"""make_ops_fixtures.py — reference values for the linear operators (tests/c/test_ops.c).

Run with Debian's system python (numpy 1.24, scipy 1.10, torch 1.13 CPU, PIL 9.4):
    /usr/bin/python3 tests/reference/make_ops_fixtures.py
It rewrites tests/reference/ops/*.ssfx; the files are committed, so tests never need Python.

File format (read by tests/c/fixture.h), all little-endian:
    magic   4 bytes "SSFX"
    count   uint32, the number of arrays
    count times:
        name_len  uint32, then name_len bytes of name (ASCII, no NUL)
        ndim      uint32
        shape     ndim x int64
        data      prod(shape) x float32, C order
Names are "<case>.<role>": roles x (input), y (expected output), t / sigma (a
scalar as shape (1,)), g (an upstream gradient) and vjp (x.grad for that g).
"""
import os

import numpy as np

import ssfx
import scipy.fft
import torch
import torch.nn.functional as F
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops")
rng = np.random.default_rng(20240611)


def normal(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def write(name, arrays):
    ssfx.write(OUT, name, arrays)


def dct_cases():
    arrays = []
    for shape in [(2, 3, 8, 8), (1, 2, 7, 12), (1, 1, 28, 28), (5, 1, 9)]:
        case = "dct_" + "x".join(map(str, shape))
        x = normal(*shape)
        xd = x.astype(np.float64)
        arrays += [(case + ".x", x),
                   (case + ".y", scipy.fft.dctn(xd, axes=(-2, -1), norm="ortho")),
                   (case + ".inv", scipy.fft.idctn(xd, axes=(-2, -1), norm="ortho"))]
    return arrays


def heat(x, t):
    h, w = x.shape[-2:]
    k = np.pi * np.arange(h) / h
    l = np.pi * np.arange(w) / w
    lam = k[:, None] ** 2 + l[None, :] ** 2
    c = scipy.fft.dctn(x.astype(np.float64), axes=(-2, -1), norm="ortho")
    return scipy.fft.idctn(c * np.exp(-t * lam), axes=(-2, -1), norm="ortho")


def heat_cases():
    arrays = []
    for shape, t in [((2, 3, 8, 8), 0.5), ((2, 3, 8, 8), 2.0), ((2, 3, 8, 8), 10.0),
                     ((1, 2, 7, 12), 1.5), ((1, 1, 28, 28), 3.0)]:
        case = "heat_%s_t%g" % ("x".join(map(str, shape)), t)
        x = normal(*shape)
        arrays += [(case + ".x", x), (case + ".t", np.array([t])), (case + ".y", heat(x, t))]
    # Gaussian blur: heat at t = sigma^2 / 2.
    x = normal(1, 2, 16, 16)
    arrays += [("blur_s2.x", x), ("blur_s2.sigma", np.array([2.0])), ("blur_s2.y", heat(x, 2.0))]
    return arrays


# (input H, W) -> (output H, W), batch shape
RESIZE_TORCH = [((16, 16), (8, 8), (1, 2)),     # down 2
                ((64, 64), (32, 32), (1, 1)),   # down 2, the SSD step
                ((28, 28), (8, 8), (1, 2)),     # down 3.5
                ((7, 7), (14, 14), (1, 2)),     # up 2
                ((12, 20), (5, 7), (1, 2)),     # non-square, non-integer factors
                ((15, 15), (6, 6), (2, 1)),     # odd, down 2.5
                ((9, 9), (1, 1), (1, 1)),       # to one pixel
                ((1, 3), (4, 5), (1, 1))]       # from one row


def torch_resize_cases(mode, cases, **kw):
    arrays = []
    for (h, w), (ho, wo), lead in cases:
        case = "%s_%dx%d_to_%dx%d" % (mode, h, w, ho, wo)
        x = normal(*lead, h, w)
        g = normal(*lead, ho, wo)
        xt = torch.from_numpy(x).requires_grad_(True)
        y = F.interpolate(xt, size=(ho, wo), mode=mode, **kw)
        y.backward(torch.from_numpy(g))
        arrays += [(case + ".x", x), (case + ".y", y.detach().numpy()), (case + ".g", g),
                   (case + ".vjp", xt.grad.numpy())]
    return arrays


def pillow_bicubic_cases():
    arrays = []
    for (h, w), (ho, wo), lead in [((16, 16), (8, 8), (1, 2)), ((28, 28), (8, 8), (1, 2)),
                                   ((7, 7), (14, 14), (1, 2)), ((12, 20), (5, 7), (1, 2)),
                                   ((15, 15), (6, 6), (2, 1)), ((28, 28), (75, 75), (1, 1)),
                                   ((9, 9), (1, 1), (1, 1)), ((1, 3), (4, 5), (1, 1))]:
        case = "bicubic_%dx%d_to_%dx%d" % (h, w, ho, wo)
        x = normal(*lead, h, w)
        y = np.empty(lead + (ho, wo), np.float32)
        for idx in np.ndindex(*lead):
            img = Image.fromarray(x[idx], mode="F")
            y[idx] = np.asarray(img.resize((wo, ho), Image.Resampling.BICUBIC), dtype=np.float32)
        arrays += [(case + ".x", x), (case + ".y", y)]
    return arrays


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    write("dct.ssfx", dct_cases())
    write("heat.ssfx", heat_cases())
    write("resize_bilinear_aa.ssfx",
          torch_resize_cases("bilinear", RESIZE_TORCH, antialias=True, align_corners=False))
    write("resize_bicubic.ssfx", pillow_bicubic_cases())
    small = [((16, 16), (8, 8), (1, 2)), ((15, 15), (6, 6), (2, 1)), ((12, 20), (5, 7), (1, 2)),
             ((7, 7), (14, 14), (1, 2)), ((10, 9), (4, 21), (1, 1)), ((9, 9), (1, 1), (1, 1)),
             ((1, 3), (4, 5), (1, 1))]
    write("resize_area.ssfx", torch_resize_cases("area", small))
    write("resize_nearest.ssfx", torch_resize_cases("nearest", small))


if __name__ == "__main__":
    main()
