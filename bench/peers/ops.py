"""Peer timings for bench/ops.lua: scipy.fft heat blur and PyTorch antialiased
bilinear resize (forward, and the autograd VJP a user would take as the adjoint).
Prints one `case=... median_ms=...` line per case; run by bench/ops.lua."""
import sys

import numpy as np
import scipy.fft as sf
import torch
import torch.nn.functional as F

from timing import median_ms

torch.set_num_threads(2)


def heat_case(shape, t):
    n, c, h, w = shape
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    k, l = np.arange(h)[:, None], np.arange(w)[None, :]
    decay = np.exp(-t * ((np.pi * k / h) ** 2 + (np.pi * l / w) ** 2)).astype(np.float32)

    def run():
        return sf.idctn(sf.dctn(x, axes=(-2, -1), norm="ortho", workers=2) * decay,
                        axes=(-2, -1), norm="ortho", workers=2)

    name = "heat_%dx%dx%dx%d" % shape
    print("case=%s peer=scipy.fft median_ms=%.6f" % (name, median_ms(run)))


def resize_case(shape, size):
    x = torch.randn(shape)
    xg = x.clone().requires_grad_(True)
    g = torch.randn(shape[0], shape[1], *size)
    name = "resize_%dx%dx%dx%d_to_%dx%d" % (shape + size)

    def fwd():
        with torch.no_grad():
            return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)

    def vjp():
        y = F.interpolate(xg, size=size, mode="bilinear", antialias=True, align_corners=False)
        (gx,) = torch.autograd.grad(y, xg, g)
        return gx

    print("case=%s_forward peer=torch median_ms=%.6f" % (name, median_ms(fwd)))
    print("case=%s_adjoint peer=torch.autograd median_ms=%.6f" % (name, median_ms(vjp)))


if __name__ == "__main__":
    heat_case((64, 1, 28, 28), 2.0)
    heat_case((16, 3, 128, 128), 2.0)
    resize_case((16, 3, 64, 64), (32, 32))
    sys.stdout.flush()
