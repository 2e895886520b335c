"""Peer timings for bench/api.lua, as a script calls each library: PyTorch's autograd
VJP of the antialiased bilinear resize (the adjoint a PyTorch user takes), and the
heat blur through scipy.fft's dctn/idctn (2 workers). Prints one
`case=... median_ms=... p25_ms=... p75_ms=...` line per case.
usage: api.py THREADS [passive]: with `passive`, OMP_WAIT_POLICY=PASSIVE is set before
PyTorch loads libgomp (the policy libscalespace chooses for itself), for a second,
fair peer figure beside the one with the environment as found."""
import os
import sys

if len(sys.argv) > 2 and sys.argv[2] == "passive":
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import numpy as np
import scipy.fft as sf
import torch
import torch.nn.functional as F

from timing import times_ms

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
WORKERS = torch.get_num_threads()


def emit(case, peer, t):
    print("case=%s peer=%s median_ms=%.6f p25_ms=%.6f p75_ms=%.6f" % ((case, peer) + t))


def resize_adjoint(n, c, small, big):
    xg = torch.randn(n, c, big, big).requires_grad_(True)
    g = torch.randn(n, c, small, small)

    def vjp():
        y = F.interpolate(xg, size=(small, small), mode="bilinear", antialias=True, align_corners=False)
        (gx,) = torch.autograd.grad(y, xg, g)
        return gx
    emit("resize_adjoint_%dx%dx%dx%d_to_%dx%d" % (n, c, small, small, big, big), "torch.autograd", times_ms(vjp, 21))


def heat(shape, t):
    n, c, h, w = shape
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    k, l = np.arange(h)[:, None], np.arange(w)[None, :]
    decay = np.exp(-t * ((np.pi * k / h) ** 2 + (np.pi * l / w) ** 2)).astype(np.float32)

    def run():
        return sf.idctn(sf.dctn(x, axes=(-2, -1), norm="ortho", workers=WORKERS) * decay,
                        axes=(-2, -1), norm="ortho", workers=WORKERS)
    emit("heat_%dx%dx%dx%d" % shape, "scipy.fft", times_ms(run, 21))


if __name__ == "__main__":
    resize_adjoint(16, 3, 32, 64)
    heat((16, 3, 128, 128), 2.0)
    sys.stdout.flush()
