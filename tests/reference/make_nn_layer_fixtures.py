#!/usr/bin/python3
"""make_nn_layer_fixtures.py — PyTorch 1.13 references for GroupNorm, SiLU, 2x2 average
pooling, nearest 2x up-sampling, ADM's timestep embedding and the weighted MSE
(tests/c/test_nn_layers.c). Run with Debian's system python:
    /usr/bin/python3 tests/reference/make_nn_layer_fixtures.py
It rewrites tests/reference/nn_layers/layers.ssfx (format: ssfx.py)."""
import math
import os

import torch
import torch.nn.functional as F

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn_layers")
torch.manual_seed(20241122)
arrays = []


def grads(name, y, inputs, names):
    g = torch.randn_like(y)
    gs = torch.autograd.grad(y, inputs, grad_outputs=g)
    arrays.append((name + ".g", g))
    for n, v in zip(names, gs):
        arrays.append((name + "." + n, v))


# GroupNorm: 8 channels in 4 groups, odd spatial size, non-trivial affine.
x = torch.randn(3, 8, 5, 6, dtype=torch.float64) * 2 + 0.5
w = torch.randn(8, dtype=torch.float64)
b = torch.randn(8, dtype=torch.float64)
for t in (x, w, b):
    t.requires_grad_(True)
y = F.group_norm(x, 4, w, b, eps=1e-5)
arrays += [("gn.x", x), ("gn.w", w), ("gn.b", b), ("gn.y", y)]
grads("gn", y, (x, w, b), ("dx", "dw", "db"))

x = (torch.randn(2, 3, 4, 5, dtype=torch.float64) * 3).requires_grad_(True)
y = F.silu(x)
arrays += [("silu.x", x), ("silu.y", y)]
grads("silu", y, (x,), ("dx",))

x = torch.randn(2, 3, 6, 7, dtype=torch.float64).requires_grad_(True)
y = F.avg_pool2d(x, 2)
arrays += [("pool.x", x), ("pool.y", y)]
grads("pool", y, (x,), ("dx",))

x = torch.randn(2, 3, 3, 4, dtype=torch.float64).requires_grad_(True)
y = F.interpolate(x, scale_factor=2, mode="nearest")
arrays += [("up.x", x), ("up.y", y)]
grads("up", y, (x,), ("dx",))

# guided-diffusion's timestep_embedding, in float32 as it runs there.
t = torch.tensor([0.0, 1.0, 17.0, 999.5, 250.0])
half = 16
freqs = torch.exp(-math.log(10000) * torch.arange(start=0, end=half, dtype=torch.float32) / half)
args = t[:, None].float() * freqs[None]
arrays += [("emb.t", t), ("emb.y", torch.cat([torch.cos(args), torch.sin(args)], dim=-1))]

p = torch.randn(4, 1, 5, 5, dtype=torch.float64).requires_grad_(True)
q = torch.randn(4, 1, 5, 5, dtype=torch.float64)
wt = torch.tensor([1.0, 5.0, 0.5, 2.0], dtype=torch.float64)
per = ((p - q) ** 2).flatten(1)
for name, r in (("mse", per.mean(1)), ("msesum", per.sum(1))):
    loss = (wt * r).mean()
    arrays += [(name + ".loss", loss.reshape(1)), (name + ".dp", torch.autograd.grad(loss, p, retain_graph=True)[0])]
arrays += [("mse.p", p), ("mse.q", q), ("mse.w", wt)]

os.makedirs(OUT, exist_ok=True)
ssfx.write(OUT, "layers.ssfx", [(k, v.detach().numpy()) for k, v in arrays])
