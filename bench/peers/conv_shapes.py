"""The UNet's convolution shapes (28x28, ch 32, mult (1,2,2), batch 32) that bench/conv.lua
and bench/peers/conv.py time: name, Cin, Cout, H = W, kernel, stride. bench/conv.lua reads
this file's SHAPES lines, so keep one tuple per line."""
SHAPES = [
    ("in_1to32_28", 1, 32, 28, 3, 1),
    ("res_32to32_28", 32, 32, 28, 3, 1),
    ("up_96to32_28", 96, 32, 28, 3, 1),
    ("up_64to32_28", 64, 32, 28, 3, 1),
    ("upconv_64to64_28", 64, 64, 28, 3, 1),
    ("down_32to32_28s2", 32, 32, 28, 3, 2),
    ("res_32to64_14", 32, 64, 14, 3, 1),
    ("res_64to64_14", 64, 64, 14, 3, 1),
    ("up_128to64_14", 128, 64, 14, 3, 1),
    ("res_64to64_7", 64, 64, 7, 3, 1),
    ("up_128to64_7", 128, 64, 7, 3, 1),
    ("out_32to1_28", 32, 1, 28, 3, 1),
    ("skip_96to32_28_1x1", 96, 32, 28, 1, 1),
    ("qkv_64to192_7_1x1", 64, 192, 7, 1, 1),
]
