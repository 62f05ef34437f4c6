"""Variational Information Bottleneck, with I(X; Z) bracketed between BA and the rate.

Data x ~ N(0, I_10) (so h(X) is known) and a target y = (x_1, x_2) + noise. A Gaussian encoder
p(z|x) (2-d code) is trained VIB-style: maximize log q(y|z) - beta * rate, with a learned marginal
q(z). A separate decoder q(x|z) is trained (on detached codes) by the Barber-Agakov bound, so
BA <= I(X; Z) <= rate brackets how much the code keeps about x. Larger beta compresses more.

Run: python examples/representation_vib.py [--steps 2000] [--beta 0.1]
"""

from __future__ import annotations

import argparse
import math

import torch

from mibounds.representation import ConditionalGaussian, GaussianMarginal, ba_lower_bound, mi_bracket, rate_upper_bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--beta", type=float, default=0.1)
    args = parser.parse_args()
    dim_x, dim_z = 10, 2
    entropy_x = 0.5 * dim_x * math.log(2 * math.pi * math.e)  # h(X) of N(0, I)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    encoder = ConditionalGaussian(dim_x, dim_z, hidden_dim=64)
    predictor = ConditionalGaussian(dim_z, 2, hidden_dim=64)  # q(y|z), the VIB task decoder
    decoder = ConditionalGaussian(dim_z, dim_x, hidden_dim=64)  # q(x|z), only for the BA bound
    marginal = GaussianMarginal(dim_z)
    modules = (encoder, predictor, decoder, marginal)
    optimizer = torch.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-3)
    for step in range(args.steps):
        x = torch.randn(256, dim_x, generator=g)
        y = x[:, :2] + 0.1 * torch.randn(256, 2, generator=g)
        posterior = encoder(x)
        z = posterior.rsample(g)
        vib = -predictor.log_prob(y, z).mean() + args.beta * rate_upper_bound(posterior, marginal, z)
        ba = ba_lower_bound(decoder, x, z.detach(), entropy_x)
        optimizer.zero_grad()
        (vib - ba).backward()
        optimizer.step()
        if step % 250 == 0 or step == args.steps - 1:
            b = mi_bracket(torch.randn(8192, dim_x, generator=g), encoder, decoder, marginal, entropy_x, g)
            print(
                f"step {step:4d}  {b.lower:6.3f} ± {b.lower_se:.3f}  <=  I(X; Z)  <=  {b.upper:6.3f} ± {b.upper_se:.3f} nats"
            )


if __name__ == "__main__":
    main()
