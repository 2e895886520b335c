#!/usr/bin/python3
"""make_nn_fixtures.py — reference values for the network layers (tests/c/test_nn.c).

Run with Debian's system python (numpy 1.24, torch 1.13 CPU):
    /usr/bin/python3 tests/reference/make_nn_fixtures.py
It rewrites tests/reference/nn/*.ssfx; the files are committed, so tests never need Python.

The inputs are float32 draws from numpy (seed below); PyTorch evaluates
F.conv2d / F.linear and their autograd backward in float64 on those values, and
the results are stored as float32, so the fixtures are the exact answers rounded
once. File format: see ssfx.py and tests/c/fixture.h. Names are "<case>.<role>":
    x  input            w  weight           b  bias (absent: no bias)
    stride, padding     (conv only; (h, w) as shape (2,))
    y  output           g  upstream gradient dL/dy (fixed, drawn like the inputs)
    gx dL/dx            gw dL/dw            gb dL/db (with b)
"""
import os

import numpy as np

import ssfx
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn")
rng = np.random.default_rng(20240612)


def normal(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def to64(a):
    return torch.from_numpy(a.astype(np.float64)).requires_grad_(True)


# name, input (N,Cin,H,W), weight (Cout,Cin,kh,kw), stride, padding (a number: both axes;
# a pair: (h, w)), bias. The channel counts of the later cases (>= 8) take oneDNN's blocked
# layouts where the build has oneDNN; the rectangular ones are Inception-v3's (issue 15).
CONV = [("k3_s1_p1", (2, 4, 8, 8), (4, 4, 3, 3), 1, 1, True),
        ("k3_s2_p1", (2, 4, 10, 10), (6, 4, 3, 3), 2, 1, True),
        ("k3_s2_p1_odd", (2, 3, 9, 7), (5, 3, 3, 3), 2, 1, True),
        ("k1_s1_p0", (3, 8, 6, 5), (5, 8, 1, 1), 1, 0, True),
        ("k1_s1_p0_nobias", (2, 6, 4, 7), (3, 6, 1, 1), 1, 0, False),
        ("k1_s2_p1", (2, 4, 7, 6), (3, 4, 1, 1), 2, 1, True),
        ("odd_k3_s1_p0", (3, 3, 7, 11), (5, 3, 3, 3), 1, 0, True),
        ("odd_k5x3_s3_p2", (2, 5, 13, 9), (7, 5, 5, 3), 3, 2, False),
        ("k3_s1_p1_wide", (2, 16, 10, 10), (24, 16, 3, 3), 1, 1, True),
        ("k1x7_p0x3", (2, 16, 9, 11), (24, 16, 1, 7), 1, (0, 3), True),
        ("k7x1_p3x0", (2, 16, 11, 9), (12, 16, 7, 1), 1, (3, 0), False),
        ("k1x3_p0x1", (2, 9, 6, 8), (10, 9, 1, 3), 1, (0, 1), True),
        ("k3x1_p1x0", (2, 9, 8, 6), (10, 9, 3, 1), 1, (1, 0), True),
        ("k3_s2_p0", (2, 3, 15, 13), (8, 3, 3, 3), 2, 0, False),
        ("k3_s2_p0_c32", (2, 32, 15, 15), (32, 32, 3, 3), 2, 0, True),
        ("k3_s2x1_p1x0", (2, 8, 9, 8), (16, 8, 3, 3), (2, 1), (1, 0), True),
        ("k5x3_s1x2_p2x1", (2, 16, 9, 10), (8, 16, 5, 3), (1, 2), (2, 1), True)]

# name, input shape (...,Fin), Fout, bias
LINEAR = [("lin_5x7_to_3", (5, 7), 3, True),
          ("lin_16x64_to_128", (16, 64), 128, True),
          ("lin_2x3x6_to_4", (2, 3, 6), 4, True),
          ("lin_4x9_to_5_nobias", (4, 9), 5, False)]


def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def conv_cases():
    arrays = []
    for case, xs, ws, stride, padding, has_bias in CONV:
        x, w = normal(*xs), normal(*ws) / np.float32(np.sqrt(np.prod(ws[1:])))
        b = normal(ws[0]) if has_bias else None
        xt, wt = to64(x), to64(w)
        bt = to64(b) if has_bias else None
        stride, padding = pair(stride), pair(padding)
        y = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
        g = normal(*y.shape)
        y.backward(torch.from_numpy(g.astype(np.float64)))
        arrays += [(case + ".x", x), (case + ".w", w)]
        if has_bias:
            arrays += [(case + ".b", b)]
        arrays += [(case + ".stride", np.array(stride)), (case + ".padding", np.array(padding)),
                   (case + ".y", y.detach().numpy()), (case + ".g", g),
                   (case + ".gx", xt.grad.numpy()), (case + ".gw", wt.grad.numpy())]
        if has_bias:
            arrays += [(case + ".gb", bt.grad.numpy())]
    return arrays


def linear_cases():
    arrays = []
    for case, xs, fout, has_bias in LINEAR:
        fin = xs[-1]
        x, w = normal(*xs), normal(fout, fin) / np.float32(np.sqrt(fin))
        b = normal(fout) if has_bias else None
        xt, wt = to64(x), to64(w)
        bt = to64(b) if has_bias else None
        y = F.linear(xt, wt, bt)
        g = normal(*y.shape)
        y.backward(torch.from_numpy(g.astype(np.float64)))
        arrays += [(case + ".x", x), (case + ".w", w)]
        if has_bias:
            arrays += [(case + ".b", b)]
        arrays += [(case + ".y", y.detach().numpy()), (case + ".g", g),
                   (case + ".gx", xt.grad.numpy()), (case + ".gw", wt.grad.numpy())]
        if has_bias:
            arrays += [(case + ".gb", bt.grad.numpy())]
    return arrays


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    ssfx.write(OUT, "conv2d.ssfx", conv_cases())
    ssfx.write(OUT, "linear.ssfx", linear_cases())


if __name__ == "__main__":
    main()
