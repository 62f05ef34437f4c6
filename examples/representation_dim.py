"""Deep InfoMax on procedural dSprites: global and local MI between feature map and code.

Run: python examples/representation_dim.py [--steps 300] [--bound js]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from mibounds.representation import ConvEncoder, DeepInfoMax
from mibounds.representation.dsprites import render, sample_factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--bound", default="infonce", choices=["infonce", "js", "dv"])
    args = parser.parse_args()
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(0)
    encoder = ConvEncoder(in_channels=1, image_size=32, code_dim=32, channels=(32, 64))
    dim = DeepInfoMax(
        encoder.feature_channels,
        encoder.feature_size,
        code_dim=32,
        bound=args.bound,
        prior_weight=0.1,
        embed_dim=64,
        hidden_dim=128,
    )
    optimizer = torch.optim.Adam([*encoder.parameters(), *dim.parameters()], lr=1e-3)
    for step in range(args.steps):
        images = F.avg_pool2d(render(sample_factors(64, data)), 2)  # 64x64 sprites seen at 32x32
        result = dim(*encoder(images))
        optimizer.zero_grad()
        result.loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(
                f"step {step:4d}  global {float(result.global_mi):6.3f}  local {float(result.local_mi):6.3f} nats"
                f"  prior-discriminator loss {float(result.prior_loss):.3f}"
            )


if __name__ == "__main__":
    main()
