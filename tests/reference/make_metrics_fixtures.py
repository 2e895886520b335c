#!/usr/bin/python3
"""make_metrics_fixtures.py — references for the metrics (tests/c/test_metrics.c and
tests/lua/metrics_spec.lua), computed the way clean-fid computes them. Run with Debian's
system python (numpy, scipy, Pillow, PyTorch 1.13):
    /usr/bin/python3 tests/reference/make_metrics_fixtures.py
It rewrites tests/reference/metrics/:
  fd.txt           Fréchet distances by scipy's sqrtm route (clean-fid's frechet_distance),
                   float64, for statistics both sides build from the recipe below;
  kid.ssfx/.txt    features, subset indices and the per-subset KID values of clean-fid's
                   kernel_distance in float64 (numpy) for those indices;
  stats.ssfx       features and numpy's mean and cov (divisor N - 1);
  cross_entropy.ssfx  logits, labels, torch's F.cross_entropy and its gradient;
  clean_resize.ssfx   8-bit images and Pillow's float bicubic resize to 299x299 clipped to
                   [0, 255] (clean-fid's resize_single_channel), every 7th row and column;
                   the 512x384 input is not stored: it is floor((u + 0.5) * 256) of the
                   recipe's LCG from seed 5, row-major.

The recipe (also in test_metrics.c): an LCG x <- (1103515245 x + 12345) mod 2^31 from a
seed, u = x / 2^31 - 0.5. A (d x k) is filled row-major with u / (1 + j/64) (j the column,
0-based: a decaying spectrum), Sigma = A A^T / k; mu is d values u. Statistics 1 use seeds
1 (A) and 3 (mu), statistics 2 seeds 2 and 4."""
import os

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from PIL import Image

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics")
os.makedirs(OUT, exist_ok=True)


def lcg(seed, n):
    out = np.empty(n)
    x = seed
    for i in range(n):
        x = (1103515245 * x + 12345) % 2**31
        out[i] = x / 2**31 - 0.5
    return out


def recipe(d, k, seed_a, seed_mu):
    a = lcg(seed_a, d * k).reshape(d, k) / (1.0 + np.arange(k) / 64.0)[None, :]
    return lcg(seed_mu, d), a @ a.T / k


def frechet_distance_scipy(mu1, sigma1, mu2, sigma2):
    """clean-fid's frechet_distance (fid.py), eps fallback included."""
    diff = mu1 - mu2
    covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


# ---------------------------------------------------------------- FD
lines = []
for d, k in ((64, 80), (2048, 2560)):
    mu1, s1 = recipe(d, k, 1, 3)
    mu2, s2 = recipe(d, k, 2, 4)
    fd = frechet_distance_scipy(mu1, s1, mu2, s2)
    lines.append("fd d=%d k=%d %.17g" % (d, k, fd))
    print("FD d=%d: %.17g" % (d, fd))
    if d == 64:  # c^2 Sigma: scipy's value, beside the analytic ||dmu||^2 + (1 - c)^2 tr Sigma
        fd_c = frechet_distance_scipy(mu1, s1, mu2, 0.49 * s1)
        lines.append("fd_c0.7 d=%d k=%d %.17g" % (d, k, fd_c))
        print("FD d=%d, c=0.7: %.17g (analytic %.17g)" % (d, fd_c, (mu1 - mu2) @ (mu1 - mu2) + 0.09 * np.trace(s1)))
with open(os.path.join(OUT, "fd.txt"), "w") as f:
    f.write("# make_metrics_fixtures.py: Frechet distances by scipy.linalg.sqrtm (clean-fid's route), float64\n")
    f.write("\n".join(lines) + "\n")

# ---------------------------------------------------------------- KID
rng = np.random.default_rng(20241206)
n1, n2, dk, m, subsets = 150, 120, 32, 50, 7
x = (rng.standard_normal((n1, dk)) * 0.8 + 0.3).astype(np.float32)
y = (rng.standard_normal((n2, dk)) + 0.1 * rng.standard_normal(dk)).astype(np.float32)
ix = np.stack([rng.choice(n1, m, replace=False) for _ in range(subsets)])
iy = np.stack([rng.choice(n2, m, replace=False) for _ in range(subsets)])
vals = []
for s in range(subsets):
    # clean-fid's kernel_distance for one subset, in float64
    xs, ys = x[ix[s]].astype(np.float64), y[iy[s]].astype(np.float64)
    a = (xs @ xs.T / dk + 1) ** 3 + (ys @ ys.T / dk + 1) ** 3
    b = (xs @ ys.T / dk + 1) ** 3
    t = (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    vals.append(t / m)
ssfx.write(OUT, "kid.ssfx", [("kid.x", x), ("kid.y", y), ("kid.ix", ix.astype(np.float32)),
                             ("kid.iy", iy.astype(np.float32))])
with open(os.path.join(OUT, "kid.txt"), "w") as f:
    f.write("# make_metrics_fixtures.py: KID per subset (clean-fid's kernel_distance, float64), m=%d\n" % m)
    f.write("\n".join("%.17g" % v for v in vals) + "\n")
print("KID per subset:", vals, "mean", np.mean(vals))

# ---------------------------------------------------------------- statistics
f = (rng.standard_normal((301, 24)) @ rng.standard_normal((24, 24)) + 5.0).astype(np.float32)
f64 = f.astype(np.float64)
ssfx.write(OUT, "stats.ssfx", [("stats.features", f), ("stats.mean", f64.mean(0)), ("stats.cov", np.cov(f64, rowvar=False))])

# ---------------------------------------------------------------- cross-entropy
torch.manual_seed(7)
logits = (torch.randn(9, 10, dtype=torch.float64) * 3).requires_grad_(True)
labels = torch.tensor([0, 3, 9, 9, 1, 5, 2, 8, 4])
loss = F.cross_entropy(logits, labels)
(g,) = torch.autograd.grad(loss * 1.5, logits)
ssfx.write(OUT, "cross_entropy.ssfx", [("ce.logits", logits.detach()), ("ce.labels", labels.double()),
                                       ("ce.loss", loss.detach().reshape(1)), ("ce.grad_x1.5", g)])

# ---------------------------------------------------------------- clean-fid's resize to 299


def resize_single_channel(ch):
    img = Image.fromarray(ch.astype(np.float32), mode="F")
    img = img.resize((299, 299), resample=Image.BICUBIC)
    return np.asarray(img).clip(0, 255)


arrays = []
for name, shape in (("grey28", (28, 28)), ("rgb32", (32, 32, 3)), ("rgb40x52", (40, 52, 3)), ("grey512", (512, 384))):
    if name == "grey512":
        img = np.floor((lcg(5, 512 * 384) + 0.5) * 256).reshape(shape).astype(np.uint8)
    else:
        img = rng.integers(0, 256, size=shape).astype(np.uint8)
    if name == "grey28":  # a garment-like blob with hard edges, where bicubic overshoots
        img[:] = 0
        img[4:24, 8:20] = 230
        img[10:14, 2:26] = 255
    chw = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
    out = np.stack([resize_single_channel(c) for c in chw])
    if name != "grey512":
        arrays.append((name + ".x", chw.astype(np.float32)))
    arrays.append((name + ".y", out[:, ::7, ::7]))
ssfx.write(OUT, "clean_resize.ssfx", arrays)
