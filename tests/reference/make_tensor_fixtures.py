#!/usr/bin/python3
"""make_tensor_fixtures.py — reference results of the shape ops (tests/c/test_shape.c,
tests/lua/tensor_spec.lua) from numpy and torch.nn.functional.pad (PyTorch 1.13). Run with
Debian's system python:
    /usr/bin/python3 tests/reference/make_tensor_fixtures.py

Each case "<op>_<tag>" holds x (the input), y (the expected output) and args, the C call's
integer arguments with 0-based dimensions and indices:
    permute  perm                        narrow  dim, first, n
    flip     bit mask of the dims        roll    one shift per dimension
    pad      left, right, top, bottom, mode (0 constant, 1 reflect, 2 replicate), value
    crop     top, left (the window's size is y's)
    cat      dim, number of parts: x is the whole, p0, p1, ... the parts (y = x)
    reduce   dim; no y but sum, mean, max and min (dim dropped; a 1-D x gives (1)), in float64
    where    x is the mask, a and b the operands (numpy broadcasting), NaN in the mask gives NaN
    index    the rows of dimension 0 to gather"""
import os

import numpy as np
import torch
import torch.nn.functional as F

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tensor")
rng = np.random.default_rng(14)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


arrays = []


def case(name, x, y, args, **extra):
    arrays.append((name + ".x", x))
    if y is not None:
        arrays.append((name + ".y", y))
    if len(args):
        arrays.append((name + ".args", np.asarray(args, dtype=np.float32).reshape(-1)))
    for k, v in extra.items():
        arrays.append((name + "." + k, v))


x4, x3, x2, x1 = rand(2, 3, 4, 5), rand(3, 4, 6), rand(5, 7), rand(9)

for tag, x, perm in (("a", x4, (0, 2, 3, 1)), ("b", x4, (3, 2, 1, 0)), ("t", x4, (0, 1, 3, 2)),
                     ("c", x3, (2, 0, 1)), ("d", x2, (1, 0))):
    case("permute_" + tag, x, np.transpose(x, perm), perm)

for tag, x, dim, first, n in (("a", x4, 0, 1, 1), ("b", x4, 1, 1, 2), ("c", x4, 2, 0, 3), ("d", x4, 3, 2, 3),
                              ("e", x1, 0, 3, 4), ("f", x2, 1, 6, 1)):
    case("narrow_" + tag, x, np.take(x, range(first, first + n), axis=dim), (dim, first, n))

for tag, x, dims in (("a", x4, (3,)), ("b", x4, (1, 3)), ("c", x4, (0, 1, 2, 3)), ("d", x2, (0,)), ("e", x1, (0,))):
    case("flip_" + tag, x, np.flip(x, dims), [sum(1 << d for d in dims)])

for tag, x, shift in (("a", x4, (0, 0, 0, 2)), ("b", x4, (0, -1, 0, 0)), ("c", x4, (1, 4, -7, 13)),
                      ("d", x1, (3,)), ("e", x2, (-12, 5))):
    case("roll_" + tag, x, np.roll(x, shift, axis=tuple(range(x.ndim))), shift)

modes = {"constant": 0, "reflect": 1, "replicate": 2}
numpy_modes = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}
for tag, x, pad, mode, value in (("a", x4, (1, 2, 3, 0), "constant", 0.0), ("b", x4, (2, 0, 1, 1), "constant", 2.5),
                                 ("c", x4, (2, 3, 1, 2), "reflect", 0.0), ("d", x4, (4, 4, 3, 3), "reflect", 0.0),
                                 ("e", x4, (3, 1, 0, 4), "replicate", 0.0), ("f", x3, (5, 0, 2, 2), "replicate", 0.0),
                                 ("g", x3, (1, 2, 0, 0), "reflect", 0.0)):
    kw = {"value": value} if mode == "constant" else {}
    y = F.pad(torch.from_numpy(x), pad, mode=mode, **kw).numpy()
    left, right, top, bottom = pad
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    npkw = {"constant_values": value} if mode == "constant" else {}
    assert np.array_equal(y, np.pad(x, widths, mode=numpy_modes[mode], **npkw)), "torch and numpy differ"
    case("pad_" + tag, x, y, (left, right, top, bottom, modes[mode], value))

for tag, x, top, left, h, w in (("a", x4, 1, 2, 2, 3), ("b", x2, 0, 3, 5, 1), ("c", x3, 3, 5, 1, 1)):
    case("crop_" + tag, x, x[..., top:top + h, left:left + w], (top, left))

for tag, shape, dim, sizes in (("d0", (4, 3, 4, 5), 0, (1, 2, 1)), ("d1", (2, 6, 4, 5), 1, (3, 1, 2)),
                               ("d2", (2, 3, 5, 5), 2, (2, 2, 1)), ("d3", (2, 3, 4, 7), 3, (4, 1, 2)),
                               ("1d", (10,), 0, (3, 7))):
    whole = rand(*shape)
    parts = np.split(whole, np.cumsum(sizes)[:-1], axis=dim)
    case("cat_" + tag, whole, whole, (dim, len(parts)), **{"p%d" % i: p for i, p in enumerate(parts)})

big, rows = rand(3, 400, 7), rand(4, 2500)
nanx = rand(3, 4)
nanx[1, 2] = np.nan
for tag, x, dim in (("x4d0", x4, 0), ("x4d1", x4, 1), ("x4d2", x4, 2), ("x4d3", x4, 3), ("x1", x1, 0),
                    ("longd1", big, 1), ("rowsd1", rows, 1), ("rowsd0", rows, 0), ("nan", nanx, 0)):
    shape = (1,) if x.ndim == 1 else tuple(s for d, s in enumerate(x.shape) if d != dim)
    case("reduce_" + tag, x, None, (dim,), **{op: fn(x.astype(np.float64), axis=dim).astype(np.float32).reshape(shape)
                                              for op, fn in (("sum", np.sum), ("mean", np.mean), ("max", np.max),
                                                             ("min", np.min))})

for tag, mshape, a, b in (("a", (2, 1, 4, 5), rand(2, 3, 4, 5), rand(1)), ("b", (4, 5), rand(3, 1, 1), rand(3, 4, 5)),
                          ("c", (6,), rand(6), rand(6))):
    m = (rng.random(mshape) < 0.5).astype(np.float32)
    if tag == "c":
        m[[1, 4]] = [np.nan, 7.0]  # NaN gives NaN; any nonzero value selects a
    y = np.where(np.isnan(m), np.float32(np.nan), np.where(m != 0, a, b)).astype(np.float32)
    case("where_" + tag, m, y, (), a=a, b=b)

xi = rand(6, 2, 3)
case("index_a", xi, xi[[5, 0, 0, 3]], (5, 0, 0, 3))

os.makedirs(OUT, exist_ok=True)
ssfx.write(OUT, "shape.ssfx", arrays)
