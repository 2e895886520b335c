#!/usr/bin/python3
"""make_optim_fixtures.py — ten steps of torch.optim.Adam and AdamW (PyTorch 1.13, float32,
single-tensor path) on a fixed parameter with a fixed sequence of gradients, and
clip_grad_norm_ (tests/c/test_optim.c). Run with Debian's system python:
    /usr/bin/python3 tests/reference/make_optim_fixtures.py"""
import os

import torch

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim")
torch.manual_seed(7)
p0 = torch.randn(5, 7)
grads = torch.randn(10, 5, 7)
arrays = [("adam.p0", p0), ("adam.grads", grads)]
for name, cls, kw in (("adam", torch.optim.Adam, dict(lr=2e-4, weight_decay=0.0)),
                      ("adamwd", torch.optim.Adam, dict(lr=1e-2, weight_decay=0.1)),
                      ("adamw", torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.1))):
    p = torch.nn.Parameter(p0.clone())
    opt = cls([p], betas=(0.9, 0.999), eps=1e-8, foreach=False, **kw)
    for k in range(10):
        p.grad = grads[k].clone()
        opt.step()
    arrays.append((name + ".p10", p.detach().clone()))
g1, g2 = torch.randn(3, 4) * 3, torch.randn(6) * 3
ps = [torch.nn.Parameter(torch.zeros_like(g1)), torch.nn.Parameter(torch.zeros_like(g2))]
ps[0].grad, ps[1].grad = g1.clone(), g2.clone()
norm = torch.nn.utils.clip_grad_norm_(ps, 1.0)
arrays += [("clip.g1", g1), ("clip.g2", g2), ("clip.norm", norm.reshape(1)), ("clip.c1", ps[0].grad),
           ("clip.c2", ps[1].grad)]
os.makedirs(OUT, exist_ok=True)
ssfx.write(OUT, "optim.ssfx", [(k, v.numpy()) for k, v in arrays])
