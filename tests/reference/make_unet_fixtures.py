#!/usr/bin/python3
"""make_unet_fixtures.py — a whole small UNet and Flexi-UNet in PyTorch 1.13 (unet_torch.py,
float64), for tests/lua/nn_spec.lua: the parameters, and per case the input, times,
target, output, the MSE loss and the gradient of every parameter. Run with Debian's python:
    /usr/bin/python3 tests/reference/make_unet_fixtures.py
It rewrites tests/reference/unet/unet.ssfx (format: ssfx.py) and unet/flexi.safetensors
(the Flexi-UNet's float32 state_dict as safetensors tooling writes it, see
make_checkpoint_fixtures.py).

Config (kept equal to CONFIG in nn_spec.lua): in_ch 2, ch 4, mult (1,2,2), 1 res block,
attention at 4x4 (level 2) with 2 heads, GroupNorm with 2 groups, image 8x8, no dropout.
Every parameter is random (no zero-initialised convolutions), so every path carries a
gradient. Cases: "unet" (8x8; the Flexi-UNet at 8x8 must give the same), and the Flexi-UNet
at "flexi2" (4 -> 4), "flexi2up" (4 -> 8, zero-filled skips), "flexi3up" (2 -> 4)."""
import os

import torch

import ssfx
from make_checkpoint_fixtures import save_file_reference
from unet_torch import UNet

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unet")
CONFIG = dict(in_ch=2, ch=4, mult=(1, 2, 2), num_res_blocks=1, attn_res=(4,), dropout=0.0, image_size=8,
              heads=2, groups=2, zero_init=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20261122)
    flexi = UNet(flexi=True, **CONFIG).double()
    with torch.no_grad():
        for name, p in flexi.named_parameters():
            if "norm" in name:  # GroupNorm starts at (1, 0): make its affine part matter
                p.copy_((1 if name.endswith("weight") else 0) + 0.2 * torch.randn_like(p))
    unet = UNet(flexi=False, **CONFIG).double()
    unet.load_state_dict({k: v for k, v in flexi.state_dict().items() if not k.startswith("adapt_")})
    arrays = [("param." + k, v.detach()) for k, v in sorted(flexi.state_dict().items())]

    def case(name, net, size, out_size, n=2):
        x = torch.randn(n, CONFIG["in_ch"], size, size, dtype=torch.float64)
        t = torch.tensor([3.0, 17.0][:n])
        target = torch.randn(n, CONFIG["in_ch"], out_size, out_size, dtype=torch.float64)
        net.zero_grad(set_to_none=False)
        y = net(x, t, out_size=out_size)
        loss = ((y - target) ** 2).mean()
        loss.backward()
        arrays.extend([(name + ".x", x), (name + ".t", t), (name + ".target", target), (name + ".y", y.detach()),
                       (name + ".loss", loss.detach().reshape(1))])
        for k, p in sorted(net.named_parameters()):
            arrays.append((name + ".grad." + k, p.grad.clone() if p.grad is not None else torch.zeros_like(p)))
        return x, t, y.detach()

    x, t, y = case("unet", unet, 8, 8)
    yf = flexi(x, t)
    assert torch.equal(y, yf.detach()), "Flexi-UNet at full resolution must be the UNet"
    case("flexi2", flexi, 4, 4)
    case("flexi2up", flexi, 4, 8)
    case("flexi3up", flexi, 2, 4)
    ssfx.write(OUT, "unet.ssfx", [(k, v.numpy()) for k, v in arrays])
    save_file_reference({k: v.float().contiguous() for k, v in flexi.state_dict().items()},
                        os.path.join(OUT, "flexi.safetensors"), {"format": "pt"})


if __name__ == "__main__":
    main()
