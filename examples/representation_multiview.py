"""Contrastive Multiview Coding on the digits: three views (top half, bottom half, left half).

Each view has its own encoder; InfoNCE between every pair of views ("full" graph). Prints each
pair's MI readout. Needs scikit-learn (pip install 'mibounds[examples]').

Run: python examples/representation_multiview.py [--steps 500] [--mode full]
"""

from __future__ import annotations

import argparse

import torch

from mibounds.critics import mlp
from mibounds.representation import InfoNCELoss, MultiViewContrastive
from mibounds.representation.digits import load_digit_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--mode", default="full", choices=["full", "core"])
    args = parser.parse_args()
    images, _ = load_digit_images()
    views = [images[:, :4, :].flatten(1), images[:, 4:, :].flatten(1), images[:, :, :4].flatten(1)]
    torch.manual_seed(0)
    model = MultiViewContrastive(
        [mlp(32, 128, 16, num_layers=2) for _ in views],
        loss=InfoNCELoss(temperature=0.1, learnable_temperature=True),
        mode=args.mode,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for step in range(args.steps):
        batch = torch.randint(len(images), (256,), generator=g)
        result = model([v[batch] for v in views])
        optimizer.zero_grad()
        result.loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == args.steps - 1:
            pairs = ", ".join(f"{a}-{b}: {float(mi):.2f}" for (a, b), mi in result.mi.items())
            print(f"step {step:4d}  InfoNCE readouts (nats, ceiling log 256 = 5.55): {pairs}")


if __name__ == "__main__":
    main()
