"""Peer for bench/solvers.lua: one implicit osmosis step (I - tau A) u+ = u on the
same image and guidance (raw float32 files written by the bench), solved by
scipy.sparse.linalg.bicgstab on the assembled CSR matrix with the same stopping
rule ||r||_2 <= eps * n (tol = 0, atol = eps * n), warm-started from u."""
import sys
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla


def osmosis_matrix(v, h=1.0):
    """A of the discrete osmosis operator with the canonical drift of v (H, W):
    per face a -> b (b the higher index), p = 1/h^2 - d/(2h), q = 1/h^2 + d/(2h):
    A[a,b] += p, A[a,a] -= q, A[b,b] -= p, A[b,a] += q."""
    H, W = v.shape
    idx = np.arange(H * W).reshape(H, W)
    rows, cols, vals = [], [], []
    for a, b, va, vb in ((idx[:-1, :], idx[1:, :], v[:-1, :], v[1:, :]),
                         (idx[:, :-1], idx[:, 1:], v[:, :-1], v[:, 1:])):
        d = (2.0 / h) * (vb - va) / (vb + va)
        p, q = 1.0 / h**2 - d / (2 * h), 1.0 / h**2 + d / (2 * h)
        a, b = a.ravel(), b.ravel()
        p, q = p.ravel(), q.ravel()
        rows += [a, a, b, b]
        cols += [b, a, b, a]
        vals += [p, -q, -p, q]
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(H * W, H * W))


def main(u_path, v_path, H, W, tau, eps):
    u = np.fromfile(u_path, dtype=np.float32).astype(np.float64).reshape(H, W)
    v = np.fromfile(v_path, dtype=np.float32).astype(np.float64).reshape(H, W)
    t0 = time.perf_counter()
    M = (sp.identity(H * W, format="csr") - tau * osmosis_matrix(v)).tocsr()
    assemble = time.perf_counter() - t0
    b = u.ravel()
    n = H * W
    times, iters = [], 0
    for _ in range(7):
        count = [0]

        def cb(_x):
            count[0] += 1
        t0 = time.perf_counter()
        x, info = sla.bicgstab(M, b, x0=b.copy(), tol=0.0, atol=eps * n, maxiter=1000, callback=cb)
        times.append(time.perf_counter() - t0)
        iters = count[0]
    res = np.linalg.norm(b - M @ x)
    print("case=osmosis_step_%dx%d peer=scipy.sparse.linalg.bicgstab median_ms=%.6f iterations=%d residual=%.6g "
          "info=%d assemble_ms=%.3f" % (H, W, 1e3 * sorted(times)[len(times) // 2], iters, res, info, 1e3 * assemble))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]))
