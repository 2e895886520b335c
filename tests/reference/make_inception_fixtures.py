#!/usr/bin/python3
"""make_inception_fixtures.py — the FID Inception-v3 (inception_torch.py: pytorch-fid's FID
variant, built without torchvision) with seeded random weights, saved the three ways our
loader reads, and its pool3 features (tests/lua/metrics_spec.lua). Run with Debian's python:
    /usr/bin/python3 tests/reference/make_inception_fixtures.py [--full DIR]
It rewrites tests/reference/inception/:
  zip.pt          torch.save(state_dict) (zip format; pytorch-fid's names)
  legacy.pt       torch.save(state_dict, _use_new_zipfile_serialization=False)
  torchscript.pt  torch.jit.save of the NVlabs attribute tree (layers.conv, ..., no gamma)
  features.ssfx   pool3 features of the input batch (float64 forward), and the features of
                  a clean-fid pipeline case: two 32x32 RGB images, Pillow-resized to 299.
The committed network has 1/16 of the channels (width = 1/16: 2 to 28 per convolution,
pool3 128-d; fc 10 classes instead of 1008) to keep the files small; every layer, kernel,
stride, padding and pool of the full network is there. --full DIR writes the full-width
network (width 1, fc 1008) and its features to DIR instead, for a check by hand:
SS_INCEPTION_FULL_FIXTURE=DIR makes metrics_spec run it.

The input batch (3 images, 299x299 RGB, 8-bit) is an integer recipe both sides compute:
v(n, c, y, x) = ((x // 8) * 37 + (y // 8) * 91 + c * 53 + n * 101 + (x * y) % 29) % 256,
then (v - 128) / 128. The pipeline case's 32x32 images use the same recipe with x, y < 32
and n = 5, 6."""
import os
import sys

import numpy as np
import torch
from PIL import Image

import inception_torch as it
import ssfx

HERE = os.path.dirname(os.path.abspath(__file__))
full = "--full" in sys.argv
OUT = sys.argv[sys.argv.index("--full") + 1] if full else os.path.join(HERE, "inception")
os.makedirs(OUT, exist_ok=True)
width, classes = (1.0, 1008) if full else (1 / 16, 10)


def recipe(ns, size):
    y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    out = np.empty((len(ns), 3, size, size))
    for i, n in enumerate(ns):
        for c in range(3):
            out[i, c] = ((x // 8) * 37 + (y // 8) * 91 + c * 53 + n * 101 + (x * y) % 29) % 256
    return out


x = torch.tensor((recipe([0, 1, 2], 299) - 128) / 128, dtype=torch.float32)
torch.manual_seed(0)
model = it.randomize(it.FidInception(width, classes), x, seed=20241206)

# clean-fid's pipeline for the second case: 8-bit RGB, each channel resized by Pillow's
# float bicubic to 299, clipped to [0, 255], then (x - 128) / 128
small = recipe([5, 6], 32)
big = np.stack([np.stack([np.asarray(Image.fromarray(ch.astype(np.float32), mode="F").resize(
    (299, 299), resample=Image.BICUBIC)).clip(0, 255) for ch in img]) for img in small])
xp = torch.tensor((big.astype(np.float64) - 128) / 128)

with torch.no_grad():
    f32 = model.features(x)
    m64 = it.FidInception(width, classes).double()
    m64.load_state_dict(model.state_dict())
    m64.eval()
    f64 = m64.features(x.double())
    fp64 = m64.features(xp)
    ts = it.nvlabs_module(model)
    fts = ts(x)
print("features %s: float32 vs float64 max rel diff %.3g; TorchScript tree vs state_dict %.3g" % (
    tuple(f64.shape), ((f32.double() - f64).abs().max() / f64.abs().max()).item(),
    ((fts.double() - f64).abs().max() / f64.abs().max()).item()))

sd = model.state_dict()
torch.save(sd, os.path.join(OUT, "zip.pt"))
torch.save(sd, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)
ts.save(os.path.join(OUT, "torchscript.pt"))
ssfx.write(OUT, "features.ssfx", [("batch.features", f64), ("pipeline.images", small), ("pipeline.features", fp64)])
for f in ("zip.pt", "legacy.pt", "torchscript.pt"):
    print("%-28s %8d bytes" % (f, os.path.getsize(os.path.join(OUT, f))))
names = sorted(n for n, _ in torch.jit.load(os.path.join(OUT, "torchscript.pt")).named_buffers())
print("TorchScript tensors: %d, e.g. %s" % (len(names), ", ".join(names[:3])))
