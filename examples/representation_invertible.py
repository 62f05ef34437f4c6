"""MI is not the representation: InfoNCE with invertible encoders, whose MI cannot change.

Tschannen et al. (2020), on scikit-learn's digits: X1 = the top half of an 8x8 digit, X2 = the
bottom half (32 pixels each). Both are encoded by RealNVP coupling stacks (invertible by
construction, the identity at step 0), so I(g1(X1); g2(X2)) = I(X1; X2) at every step of
training. Three runs, each trained with the package's InfoNCELoss on 1,200 training images:

- bilinear:    critic f = g1(x1)^T W g2(x2);
- separable:   critic f = g1(x1)^T g2(x2) (no parameters of its own);
- adversarial: the bilinear run, plus a linear classifier of the digit from g1(X1) whose loss the
               encoder maximizes through a gradient reversal (weight --adversary): the converse
               run of the paper, a bound paid for with a worse representation.

Every --probe-every steps it measures InfoNCE on 512 held-out pairs (the bound; ceiling log 512)
and the accuracy of a fresh logistic regression (scikit-learn) predicting the digit from g1(X1),
fit on the training images and scored on the 597 held-out ones. The bound rises from 0 while the
MI stays what it was; the probe moves with the critic and with what the encoder is pushed to do.
Prints mean +- spread (standard deviation) over --seeds seeds (encoder initialization and
batches; one fixed split) and writes a figure of both against the steps.

With --matched it runs the comparison of the paper's converse experiment instead: per seed, the
bilinear run and the adversarial run, both for --steps steps and measured every --probe-every
steps, and compares the adversarial run's end (bound B, probe P) with the plain run (i) at the
same step and (ii) at a matched bound: the plain run's probe at its first measurement whose bound
reaches B (none if it never does). Prints a row per seed and the mean of each column; the
finding is reproduced where B is at least the plain run's bound while P is below the plain
probe at the matched bound.

Run: python examples/representation_invertible.py [--steps 1000] [--seeds 3] [--out results/invertible.png]
     python examples/representation_invertible.py --matched [--steps 3000] [--seeds 5] [--probe-every 100]
Needs scikit-learn and matplotlib (pip install 'mibounds[examples,plot]'). About two minutes on a CPU.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mibounds.critics import BilinearCritic
from mibounds.representation import InfoNCELoss, reverse_gradient
from mibounds.representation.digits import load_digit_images, require_sklearn
from mibounds.representation.invertible import InvertibleEncoder

RUNS = ("bilinear", "separable", "adversarial")
TRAIN_IMAGES = 1200
HELDOUT_PAIRS = 512
BATCH = 256


@dataclass(frozen=True)
class Curve:
    """One run of one seed: the held-out bound and the probe accuracy at the measured steps."""

    steps: list[int]
    bound: list[float]
    accuracy: list[float]
    reconstruction_error: float  # max |g^-1(g(x)) - x| over every image, both encoders, float64


def halves() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top halves ``[1797, 32]``, bottom halves ``[1797, 32]``, labels ``[1797]``."""
    images, labels = load_digit_images()
    return images[:, :4].flatten(1), images[:, 4:].flatten(1), labels


def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed train / held-out split of the images."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return order[:TRAIN_IMAGES], order[TRAIN_IMAGES:]


def probe(features: torch.Tensor, labels: torch.Tensor, train: torch.Tensor, test: torch.Tensor) -> float:
    """Held-out accuracy of a logistic regression on standardized features."""
    require_sklearn("the linear probe")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    z, y = features.detach().double().numpy(), labels.numpy()
    scaler = StandardScaler().fit(z[train])
    classifier = LogisticRegression(max_iter=3000).fit(scaler.transform(z[train]), y[train])
    return float(classifier.score(scaler.transform(z[test]), y[test]))


def run(
    kind: str = "bilinear", steps: int = 1000, seed: int = 0, adversary: float = 0.1, probe_every: int = 250
) -> Curve:
    """Train one run (see the module docstring) and return its curve."""
    if kind not in RUNS:
        raise ValueError(f"unknown run {kind!r}; choose one of {', '.join(RUNS)}")
    top, bottom, labels = halves()
    train, test = split(len(labels))
    torch.manual_seed(seed)
    g1, g2 = InvertibleEncoder(32, num_layers=4, hidden_dim=64), InvertibleEncoder(32, num_layers=4, hidden_dim=64)
    critic = BilinearCritic(32, 32) if kind != "separable" else None
    classifier = torch.nn.Linear(32, 10) if kind == "adversarial" else None
    loss_fn = InfoNCELoss(temperature=1.0, similarity="dot", symmetric=False)
    modules = [m for m in (g1, g2, critic, classifier) if m is not None]
    optimizer = torch.optim.Adam([p for m in modules for p in m.parameters()], lr=3e-4)
    generator = torch.Generator().manual_seed(seed)

    def embed_top(x: torch.Tensor) -> torch.Tensor:
        # A bilinear critic x^T W y is the dot product of (x^T W) and y.
        z = g1(x)
        return z @ critic.weight if critic is not None else z

    def measure(step: int) -> None:
        with torch.no_grad():
            pairs = test[:HELDOUT_PAIRS]
            curve.steps.append(step)
            loss_fn(embed_top(top[pairs]), g2(bottom[pairs]))
            curve.bound.append(float(loss_fn.last_readout.mi))
            curve.accuracy.append(probe(g1(top), labels, train, test))

    curve = Curve([], [], [], math.nan)
    measure(0)
    for step in range(1, steps + 1):
        batch = train[torch.randint(0, len(train), (BATCH,), generator=generator)]
        loss = loss_fn(embed_top(top[batch]), g2(bottom[batch]))
        if classifier is not None:  # the classifier learns the digit; the encoder learns to spoil it
            loss = loss + F.cross_entropy(classifier(reverse_gradient(g1(top[batch]), adversary)), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % probe_every == 0 or step == steps:
            measure(step)
    with torch.no_grad():
        x1, x2 = top.double(), bottom.double()
        error = max(float((g.double().inverse(g.double()(x)) - x).abs().max()) for g, x in ((g1, x1), (g2, x2)))
    return Curve(curve.steps, curve.bound, curve.accuracy, error)


def mean_and_spread(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation (ddof 1; 0 for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def plot(curves: dict[str, list[Curve]], path: str) -> None:
    from mibounds.experiments.figures import write_figure

    def draw(fig) -> None:
        left, right = fig.subplots(1, 2)
        for i, (kind, runs) in enumerate(curves.items()):
            color = f"C{i}"
            for j, c in enumerate(runs):
                left.plot(c.steps, c.bound, color=color, alpha=0.8, label=kind if j == 0 else None)
                right.plot(c.steps, c.accuracy, color=color, alpha=0.8, label=kind if j == 0 else None)
        left.axhline(math.log(HELDOUT_PAIRS), color="gray", ls=":", label="log K")
        left.set(xlabel="training step", ylabel="held-out InfoNCE (nats)", title="the bound; I(X1; X2) never moves")
        right.set(xlabel="training step", ylabel="held-out accuracy", title="linear probe: digit from g1(X1)")
        left.legend(fontsize=8)
        right.legend(fontsize=8)

    print(f"figure: {write_figure(path, draw, (9.0, 3.4), layout='constrained')}")


def matched(steps: int, seeds: list[int], adversary: float, probe_every: int) -> None:
    """The --matched comparison (see the module docstring)."""
    print(
        f"adversarial (weight {adversary:g}) against the plain bilinear run, {steps} steps each; "
        "B, P: the adversarial run's final bound and probe"
    )
    header = ("seed", "B", "plain bound", "P", "plain probe", "plain step at B", "plain probe at B", "P - that")
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    rows = []
    for seed in seeds:
        plain, adversarial = (run(kind, steps, seed, adversary, probe_every) for kind in ("bilinear", "adversarial"))
        bound, accuracy = adversarial.bound[-1], adversarial.accuracy[-1]
        reached = [i for i, b in enumerate(plain.bound) if b >= bound]
        at = reached[0] if reached else None
        row = (
            bound,
            plain.bound[-1],
            accuracy,
            plain.accuracy[-1],
            float(plain.steps[at]) if at is not None else math.nan,
            plain.accuracy[at] if at is not None else math.nan,
            accuracy - plain.accuracy[at] if at is not None else math.nan,
        )
        rows.append(row)
        print(f"| {seed} | " + " | ".join(f"{v:.0f}" if k == 4 else f"{v:.3f}" for k, v in enumerate(row)) + " |")
    means = [mean_and_spread([r[k] for r in rows]) for k in range(len(rows[0]))]
    print(
        "| mean ± sd | "
        + " | ".join(f"{m:.0f} ± {s:.0f}" if k == 4 else f"{m:.3f} ± {s:.3f}" for k, (m, s) in enumerate(means))
        + " |"
    )
    higher = sum(r[0] >= r[1] for r in rows)
    worse = sum(r[6] < 0 for r in rows)
    print(
        f"adversarial bound >= plain bound at the same step: {higher} of {len(rows)} seeds; "
        f"probe below the plain run's at the matched bound: {worse} of {len(rows)} seeds"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--adversary", type=float, default=0.1, help="gradient-reversal weight of the adversarial run")
    parser.add_argument("--probe-every", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", default="results/invertible.png", help="the figure ('' for none)")
    parser.add_argument("--matched", action="store_true", help="the matched-bound comparison instead (no figure)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.matched:
        matched(args.steps, list(range(args.seed, args.seed + args.seeds)), args.adversary, args.probe_every)
        print(f"wall time {time.perf_counter() - start:.0f} s")
        return
    curves = {
        kind: [run(kind, args.steps, args.seed + i, args.adversary, args.probe_every) for i in range(args.seeds)]
        for kind in RUNS
    }
    error = max(c.reconstruction_error for runs in curves.values() for c in runs)
    print(f"encoders invertible: max |g^-1(g(x)) - x| = {error:.1e} over every image (float64), so I(X1; X2) is fixed")
    print(
        f"held-out InfoNCE (nats; ceiling log {HELDOUT_PAIRS} = {math.log(HELDOUT_PAIRS):.2f}) and linear-probe "
        f"accuracy, mean +- spread over {args.seeds} seeds:"
    )
    print(f"  {'run':12s} {'bound, step 0':>17s} {'bound, end':>17s} {'probe, step 0':>17s} {'probe, end':>17s}")
    for kind, runs in curves.items():
        cells = [
            mean_and_spread([values[index] for values in series])
            for series, index in (
                ([c.bound for c in runs], 0),
                ([c.bound for c in runs], -1),
                ([c.accuracy for c in runs], 0),
                ([c.accuracy for c in runs], -1),
            )
        ]
        print(f"  {kind:12s} " + " ".join(f"{m:8.3f} +- {s:.3f}" for m, s in cells))
    if args.out:
        plot(curves, args.out)
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
