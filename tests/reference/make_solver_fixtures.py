#!/usr/bin/python3
"""make_solver_fixtures.py — reference values for the Krylov solvers (tests/c/test_solvers.c).

Run with Debian's system python (numpy 1.24, scipy 1.10):
    /usr/bin/python3 tests/reference/make_solver_fixtures.py
It rewrites tests/reference/solvers/*.ssfx; the files are committed, so tests never need Python.
The file format is the one of make_ops_fixtures.py (read by tests/c/fixture.h).

Every test matrix acts on (..., h, w) images flattened row-major (n = h*w), one image at a
time, so the C test can wrap it in an ss_linop. Two kinds, both dense n x n matrices:

  dense   (n, n) stored as is ("A"), for 12 x 12 images (n = 144; a 256 x 256 float32
          matrix alone would be 256 KB). The C callback multiplies in double.
  kron    A = c*I + (Q1 (x) Q2) diag(d) (P1 (x) P2)^T for 16 x 16 images (n = 256), stored as
          the factors "q1" "q2" "p1" "p2" (16, 16), "d" (16, 16) and "c" (1,). With row-major
          vec, (Q1 (x) Q2) vec(X) = vec(Q1 X Q2^T), so the C callback computes
          Y = c X + Q1 (d .* (P1^T X P2)) Q2^T in double. Q1, Q2, P1, P2 are random orthogonal
          matrices rounded to float32, so the Kronecker factors are dense; with P = Q and c = 0
          the matrix is symmetric with eigenvalues d (up to the float32 rounding of Q).

All references are computed in float64 from the float32-rounded factors, i.e. for exactly the
matrix the C test applies: x = numpy.linalg.solve(A, b) for the linear systems, and for
Lanczos f(A) v = U f(w) U^T v from numpy.linalg.eigh of the dense A.

Cases (file: case.roles):
  bicgstab.ssfx  bicg_dense12  nonsymmetric I + 0.6 G/sqrt(n), G Gaussian: A b x
                 bicg_kron16   nonsymmetric I + Q diag(d) P^T, d uniform in [-0.7, 0.7]:
                               q1 q2 p1 p2 d c b x
  cg.ssfx        cg_dense12    SPD G G^T/n + 0.05 I: A b x
                 cg_kron16     SPD, eigenvalues log-spaced in [0.01, 1] (condition 100)
  lanczos.ssfx   lz_cond10     SPD, eigenvalues log-spaced in [0.5, 5] in random order:
                               q1 q2 p1 p2 d c v sqrt invsqrt expneg (exp(-A) v) aav (A A v)
                               lmax (largest eigenvalue of the dense A, shape (1,))
                 lz_cond1000   the same with eigenvalues in [0.005, 5]
Shapes of b, x: (2, h, w) (two right-hand sides, one per image); v and results: (1, 16, 16).
"""
import os

import numpy as np

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "solvers")
rng = np.random.default_rng(20240612)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def write(name, arrays):
    ssfx.write(OUT, name, arrays)


def orthogonal(m):
    """A random m x m orthogonal matrix (QR of a Gaussian, signs fixed), rounded to float32."""
    q, r = np.linalg.qr(rng.standard_normal((m, m)))
    return f32(q * np.sign(np.diag(r))[None, :])


def kron_factors(d, c, symmetric):
    q1, q2 = orthogonal(16), orthogonal(16)
    p1, p2 = (q1, q2) if symmetric else (orthogonal(16), orthogonal(16))
    return dict(q1=q1, q2=q2, p1=p1, p2=p2, d=f32(d).reshape(16, 16), c=f32([c]))


def kron_dense(fac):
    """The dense float64 matrix of a kron operator, checked against the image formula."""
    q = np.kron(fac["q1"].astype(np.float64), fac["q2"].astype(np.float64))
    p = np.kron(fac["p1"].astype(np.float64), fac["p2"].astype(np.float64))
    d = fac["d"].astype(np.float64).ravel()
    a = float(fac["c"][0]) * np.eye(256) + (q * d[None, :]) @ p.T
    x = rng.standard_normal((16, 16))
    y = float(fac["c"][0]) * x + fac["q1"] @ (fac["d"] * (fac["p1"].T @ x @ fac["p2"])) @ fac["q2"].T
    assert np.allclose(a @ x.ravel(), y.ravel(), rtol=0, atol=1e-10)
    return a


def solve_case(case, a, arrays, h, w):
    """Appends b (2, h, w) and x = A^{-1} b per image."""
    b = f32(rng.standard_normal((2, h, w)))
    x = np.linalg.solve(a, b.reshape(2, -1).T.astype(np.float64)).T.reshape(2, h, w)
    arrays += [(case + ".b", b), (case + ".x", x)]
    print("  %-14s cond %.3g" % (case, np.linalg.cond(a)))


def bicgstab_cases():
    arrays = []
    n = 144
    a = f32(np.eye(n) + 0.6 * rng.standard_normal((n, n)) / np.sqrt(n))
    arrays.append(("bicg_dense12.A", a))
    solve_case("bicg_dense12", a.astype(np.float64), arrays, 12, 12)
    fac = kron_factors(rng.uniform(-0.7, 0.7, 256), 1.0, symmetric=False)
    arrays += [("bicg_kron16." + k, v) for k, v in fac.items()]
    solve_case("bicg_kron16", kron_dense(fac), arrays, 16, 16)
    return arrays


def cg_cases():
    arrays = []
    n = 144
    g = rng.standard_normal((n, n))
    a = f32(g @ g.T / n + 0.05 * np.eye(n))
    a = f32((a.astype(np.float64) + a.T.astype(np.float64)) / 2)  # exactly symmetric in float32
    arrays.append(("cg_dense12.A", a))
    solve_case("cg_dense12", a.astype(np.float64), arrays, 12, 12)
    fac = kron_factors(rng.permutation(np.logspace(-2, 0, 256)), 0.0, symmetric=True)
    arrays += [("cg_kron16." + k, v) for k, v in fac.items()]
    solve_case("cg_kron16", kron_dense(fac), arrays, 16, 16)
    return arrays


def lanczos_cases():
    arrays = []
    for case, lo in [("lz_cond10", 0.5), ("lz_cond1000", 0.005)]:
        fac = kron_factors(rng.permutation(np.logspace(np.log10(lo), np.log10(5.0), 256)), 0.0, symmetric=True)
        a = kron_dense(fac)
        a = (a + a.T) / 2
        w, u = np.linalg.eigh(a)
        v = f32(rng.standard_normal((1, 16, 16)))
        vd = v.astype(np.float64).ravel()

        def f_of_a(fw):
            return (u @ (fw * (u.T @ vd))).reshape(1, 16, 16)

        arrays += [(case + "." + k, val) for k, val in fac.items()]
        arrays += [(case + ".v", v), (case + ".sqrt", f_of_a(np.sqrt(w))),
                   (case + ".invsqrt", f_of_a(1 / np.sqrt(w))), (case + ".expneg", f_of_a(np.exp(-w))),
                   (case + ".aav", (a @ (a @ vd)).reshape(1, 16, 16)), (case + ".lmax", np.array([w[-1]]))]
        print("  %-14s eigenvalues [%.6g, %.6g], cond %.4g" % (case, w[0], w[-1], w[-1] / w[0]))
    return arrays


def main():
    os.makedirs(OUT, exist_ok=True)
    write("bicgstab.ssfx", bicgstab_cases())
    write("cg.ssfx", cg_cases())
    write("lanczos.ssfx", lanczos_cases())


if __name__ == "__main__":
    main()
