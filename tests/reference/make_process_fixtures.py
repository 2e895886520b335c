#!/usr/bin/python3
"""make_process_fixtures.py — reference values for the schedules and forward processes
(tests/lua/process_spec.lua), written the way the authors' code computes them.

Run with Debian's system python (numpy, scipy, torch 1.13 CPU):
    /usr/bin/python3 tests/reference/make_process_fixtures.py
It rewrites tests/reference/process/process.ssfx (format: see ssfx.py).
"""
import math
import os

import numpy as np
import scipy.fft
import torch
import torch.nn.functional as F

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "process")
rng = np.random.default_rng(20241122)
arrays = {}

# Ho et al.: linear betas, alphas_cumprod, posterior coefficients and variance.
T = 1000
betas = np.linspace(1e-4, 0.02, T, dtype=np.float64)
abar = np.cumprod(1 - betas)
abar_prev = np.append(1.0, abar[:-1])
arrays["linear_beta"] = betas
arrays["alphas_cumprod"] = np.append(1.0, abar)
arrays["ddpm_post_coef_x0"] = betas * np.sqrt(abar_prev) / (1 - abar)
arrays["ddpm_post_coef_xt"] = (1 - abar_prev) * np.sqrt(1 - betas) / (1 - abar)
arrays["ddpm_post_var"] = betas * (1 - abar_prev) / (1 - abar)

# Nichol & Dhariwal's cosine schedule (improved-diffusion's betas_for_alpha_bar).
f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
arrays["cosine_beta"] = np.array([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)])

# IHDM: [0] + exp(linspace(log 0.5, log 20, K)).
arrays["ihdm_sigma"] = np.append(0.0, np.exp(np.linspace(np.log(0.5), np.log(20), 100)))

# Blurring diffusion (Hoogeboom & Salimans) at t = i/T.
t = np.arange(T + 1) / T
b = math.atan(math.exp(-5.0))
a = math.atan(math.exp(5.0)) - b
logsnr = -2 * np.log(np.tan(a * t + b))
arrays["blur_logsnr"] = logsnr
arrays["blur_alpha"] = np.sqrt(1 / (1 + np.exp(-logsnr)))
arrays["blur_sigma"] = np.sqrt(1 / (1 + np.exp(logsnr)))
arrays["blur_sigma_blur"] = 20 * np.sin(np.pi * t / 2) ** 2

# SSD's ConvexDecay_0.5 in the authors' indexing (t = 0..T-1, sizes ascending,
# level n-1 the finest); r(t) for our t = 1..T is theirs at t-1.
sizes = [8, 16, 32, 64]
n = len(sizes)
r = []
for tt in range(T):
    tau = tt / (T - 1)
    x = 1 - (1 - tau) ** 0.5
    r.append(sizes[n - 1 - min(int(math.floor(x * n)), n - 1)])
arrays["ssd_resolution"] = np.array(r, dtype=np.float64)


def dct_blur(x, tt):
    """IHDM's DCT heat: exp(-t((pi k/N)^2 + (pi l/N)^2)) per coefficient."""
    N = x.shape[-1]
    k = np.pi * np.arange(N) / N
    lam = k[:, None] ** 2 + k[None, :] ** 2
    return scipy.fft.idctn(np.exp(-lam * tt) * scipy.fft.dctn(x, axes=(-2, -1), norm="ortho"), axes=(-2, -1),
                           norm="ortho")


# IHDM marginal at level k = 5 of K = 10 (sigma_max 20) on 16x16, sigma 0.01.
x = rng.random((2, 1, 16, 16))
eps = rng.standard_normal((2, 1, 16, 16))
sig = np.append(0.0, np.exp(np.linspace(np.log(0.5), np.log(20), 10)))
arrays["ihdm.x"], arrays["ihdm.eps"] = x, eps
arrays["ihdm.y"] = dct_blur(x, sig[5] ** 2 / 2) + 0.01 * eps

# Blurring diffusion marginal at i = 300 of T = 1000 on 16x16.
i = 300
N = 16
k = np.pi * np.arange(N) / N
lam = k[:, None] ** 2 + k[None, :] ** 2
d = (1 - 0.001) * np.exp(-lam * arrays["blur_sigma_blur"][i] ** 2 / 2) + 0.001
alpha = arrays["blur_alpha"][i] * d
X = scipy.fft.dctn(x, axes=(-2, -1), norm="ortho")
arrays["blur.x"], arrays["blur.eps"] = x, eps
arrays["blur.y"] = scipy.fft.idctn(alpha * X, axes=(-2, -1), norm="ortho") + arrays["blur_sigma"][i] * eps

# SSD posterior mean (Eq. 6) at the 16 -> 8 step of T = 20, levels {16, 8}, with
# M_t = sqrt(alpha_t) * interpolate(antialias=True) and M_t^T by autograd.
T2 = 20
betas2 = np.linspace(1e-4, 0.02, T2)
abar2 = np.append(1.0, np.cumprod(1 - betas2))
tc = 16  # the first t with r(t) = 8 (r(t-1) = 16), as the schedule above gives
x0 = rng.random((1, 1, 16, 16))
xt = rng.standard_normal((1, 1, 8, 8))
c = math.sqrt(1 - betas2[tc - 1])
mu = math.sqrt(abar2[tc - 1]) * torch.tensor(x0)
mu.requires_grad_(True)
down = lambda z: c * F.interpolate(z, size=(8, 8), mode="bilinear", antialias=True, align_corners=False)
resid = torch.tensor(xt) - down(mu)
v = torch.autograd.grad(down(mu), mu, grad_outputs=resid)[0]
rho = (1 - abar2[tc - 1]) / (1 - abar2[tc])
arrays["ssd.x0"], arrays["ssd.xt"] = x0, xt
arrays["ssd.mean"] = (mu + rho * v).detach().numpy()
arrays["ssd.t"] = np.array([tc], dtype=np.float64)

os.makedirs(OUT, exist_ok=True)
ssfx.write(OUT, "process.ssfx", list(arrays.items()))
