#!/usr/bin/python3
"""make_osmosis_fixtures.py — reference values for osmosis filtering (tests/c/test_osmosis.c).

Run with Debian's system python (numpy 1.24):
    /usr/bin/python3 tests/reference/make_osmosis_fixtures.py
It rewrites tests/reference/osmosis/osmosis.ssfx; the file is committed, so tests never need Python.
The format is that of tests/c/fixture.h (see make_ops_fixtures.py).

Everything is computed in float64 from the float32 values stored in the file, with the
operator built as a dense matrix straight from the flux of each face of the staggered grid:
    F = (u_b - u_a)/h^2 - d (u_a + u_b)/(2h),   (A u)_a += F,  (A u)_b -= F
(a, b the lower / higher-index pixel of the face; no flux through the image boundary).

Cases ("<case>.<role>"):
    drift_*     v (guidance, > 0), h (shape (1,)), d1 (...,H-1,W), d2 (...,H,W-1): canonical drift
    apply_*     u, g, d1, d2, h, y = A u, yt = A^T g (random drift, not canonical; no d1
                for the single-row case)
    implicit_*  u (> 0), d1, d2 (canonical drift of a random guidance), h, tau,
                y = (I - tau A)^{-1} u, a dense solve per image
"""
import os

import numpy as np

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "osmosis")
rng = np.random.default_rng(20240612)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def write(name, arrays):
    ssfx.write(OUT, name, arrays)


def canonical_drift(v, h):
    """v (..., H, W) float64 > 0 -> d1 (..., H-1, W), d2 (..., H, W-1)."""
    d1 = (2.0 / h) * (v[..., 1:, :] - v[..., :-1, :]) / (v[..., 1:, :] + v[..., :-1, :])
    d2 = (2.0 / h) * (v[..., :, 1:] - v[..., :, :-1]) / (v[..., :, 1:] + v[..., :, :-1])
    return d1, d2


def dense_A(d1, d2, h):
    """One image: d1 (H-1, W), d2 (H, W-1) -> the (H*W, H*W) matrix of A."""
    H, W = d1.shape[0] + 1, d2.shape[1] + 1
    A = np.zeros((H * W, H * W))

    def face(a, b, d):
        # F = (u_b - u_a)/h^2 - d (u_a + u_b)/(2h): its gradient w.r.t. u
        grad = {b: 1.0 / h**2 - d / (2 * h), a: -1.0 / h**2 - d / (2 * h)}
        for k, g in grad.items():
            A[a, k] += g
            A[b, k] -= g

    for i in range(H - 1):
        for j in range(W):
            face(i * W + j, (i + 1) * W + j, float(d1[i, j]))
    for i in range(H):
        for j in range(W - 1):
            face(i * W + j, i * W + j + 1, float(d2[i, j]))
    return A


def per_image(fn, *arrays):
    """Applies fn to each image (the last two axes) of same-lead arrays."""
    lead = arrays[0].shape[:-2]
    outs = [fn(*(a[idx] for a in arrays)) for idx in np.ndindex(*lead)]
    return np.stack(outs).reshape(lead + outs[0].shape)


def drift_cases():
    arrays = []
    for case, shape, h in [("drift_2x9x11_h1", (2, 9, 11), 1.0), ("drift_1x2x6x7_h0.5", (1, 2, 6, 7), 0.5)]:
        v = f32(rng.uniform(0.05, 1.2, shape))
        d1, d2 = canonical_drift(v.astype(np.float64), h)
        arrays += [(case + ".v", v), (case + ".h", np.array([h])), (case + ".d1", d1), (case + ".d2", d2)]
    return arrays


def apply_cases():
    arrays = []
    for case, shape, h in [("apply_2x9x11_h1", (2, 9, 11), 1.0), ("apply_1x2x7x5_h0.7", (1, 2, 7, 5), 0.7),
                           ("apply_1x6_h1", (1, 1, 6), 1.0)]:
        lead, (H, W) = shape[:-2], shape[-2:]
        u = f32(rng.standard_normal(shape))
        g = f32(rng.standard_normal(shape))
        # a drift of either sign, up to 1.5/h (not canonical: tests the operator alone)
        d1 = f32(rng.uniform(-1.5, 1.5, lead + (H - 1, W)) / h)
        d2 = f32(rng.uniform(-1.5, 1.5, lead + (H, W - 1)) / h)
        y = per_image(lambda a, b, x: (dense_A(a.astype(np.float64), b.astype(np.float64), h)
                                       @ x.astype(np.float64).ravel()).reshape(H, W), d1, d2, u)
        yt = per_image(lambda a, b, x: (dense_A(a.astype(np.float64), b.astype(np.float64), h).T
                                        @ x.astype(np.float64).ravel()).reshape(H, W), d1, d2, g)
        arrays += [(case + ".u", u), (case + ".g", g), (case + ".d2", d2),
                   (case + ".h", np.array([h])), (case + ".y", y), (case + ".yt", yt)]
        if H > 1:  # a single-row image has no d1 (the C side passes NULL)
            arrays.append((case + ".d1", d1))
    return arrays


def implicit_cases():
    arrays = []
    for case, shape, h, tau in [("implicit_2x16x16_tau10", (2, 16, 16), 1.0, 10.0),
                                ("implicit_1x1x12x16_tau2_h0.5", (1, 1, 12, 16), 0.5, 2.0)]:
        H, W = shape[-2:]
        v = rng.uniform(0.2, 1.0, shape) + 1.0   # a guidance with the offset 1
        u = f32(rng.uniform(0.0, 1.0, shape) + 1.0)
        d1, d2 = (f32(d) for d in canonical_drift(v, h))

        def solve(a, b, x):
            M = np.eye(H * W) - tau * dense_A(a.astype(np.float64), b.astype(np.float64), h)
            return np.linalg.solve(M, x.astype(np.float64).ravel()).reshape(H, W)

        y = per_image(solve, d1, d2, u)
        arrays += [(case + ".u", u), (case + ".d1", d1), (case + ".d2", d2), (case + ".h", np.array([h])),
                   (case + ".tau", np.array([tau])), (case + ".y", y)]
    return arrays


def main():
    os.makedirs(OUT, exist_ok=True)
    write("osmosis.ssfx", drift_cases() + apply_cases() + implicit_cases())


if __name__ == "__main__":
    main()
