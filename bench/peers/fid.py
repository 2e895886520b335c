"""Peer timings for bench/fid.lua, in the same run:
- Inception-v3 pool3 features (tests/reference/inception_torch.py: pytorch-fid's FID network,
  full width, seeded random weights; PyTorch 1.13 CPU, no_grad, eval) of a batch of 299x299
  images, the weights saved as a pytorch-fid state_dict (zip) for our side to load;
- the Frechet distance of two 2048-d statistics by clean-fid's route (scipy.linalg.sqrtm of
  sigma1 @ sigma2, real part), the statistics written as raw float64 for our side.
usage: python3 fid.py THREADS DIR BATCH; prints `case=... median_ms=...` lines."""
import os
import sys

import numpy as np
import scipy.linalg
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
import inception_torch as it  # noqa: E402
from timing import median_ms  # noqa: E402

threads, out, batch = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
x = torch.randn(batch, 3, 299, 299)
model = it.randomize(it.FidInception(1.0, 1008), x[:2], seed=1)
torch.save(model.state_dict(), os.path.join(out, "inception.pt"))
with torch.no_grad():
    ms = median_ms(lambda: model.features(x), reps=5, warmup=1)
print("case=inception_features median_ms=%.6f batch=%d" % (ms, batch))

# two 2048-d statistics: covariances of 4096 random vectors with a decaying spectrum
rng = np.random.default_rng(0)
d = 2048
stats = []
for k in range(2):
    a = rng.standard_normal((d, 4096)) / (1.0 + np.arange(d) / 64.0)[:, None]
    stats.append((rng.standard_normal(d) * 0.1, np.cov(a)))
for k, (mu, sigma) in enumerate(stats):
    mu.astype("<f8").tofile(os.path.join(out, "mu%d.f64" % (k + 1)))
    sigma.astype("<f8").tofile(os.path.join(out, "sigma%d.f64" % (k + 1)))


def fd():
    (mu1, s1), (mu2, s2) = stats
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real)


value = fd()
ms = median_ms(fd, reps=3, warmup=0)
print("case=frechet_distance median_ms=%.6f fd=%.17g" % (ms, value))
