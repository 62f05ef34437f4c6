"""Unlabeled sequence-level contrastive training over a label graph, read out by a linear probe.

Synthetic task: label sequences come from a known sticky Markov chain over L = 4 labels; each
frame is drawn from a label-dependent Gaussian whose label information lives in 2 dimensions,
next to 14 dimensions of larger nuisance noise. Each label sequence is recorded twice (two views:
the same labels, independent frame noise). A small per-frame encoder maps each frame to label
scores phi(X)_t (L numbers) and is trained **without frame labels** by maximizing sequence
InfoNCE over a bigram graph G estimated from separate label sequences (a "text-only" language
model):

    I_hat = log K + mean_k [ E(k, k) - logsumexp_j E(k, j) ],  E(k, j) = [[(phi(X_k) + phi(X'_j)) o G]],

where X'_j is the second view of sequence j. Then a linear probe (multinomial logistic regression
on the L encoder outputs, fit on 100 labelled sequences, scored on 100 held-out ones) reads
frame-label accuracy, for the trained encoder and for a randomly initialized one of the same
architecture. For comparison it also trains the single-view form, the one Wiesner's "Variational
Bounds on Mutual Information" writes (X'_j = X_j, so the positive is the sequence itself): any
frame feature that tells sequences apart maximizes that one, nuisance noise included, and here it
learns no more about the labels than a random encoder.

Usage: python examples/sequence_contrastive.py [--steps 800] [--seed 0] [--no-single-view]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mibounds.sequence import LabelGraph, bigram_graph, sequence_infonce

NUM_LABELS = 4
INFORMATIVE_DIMS = 2
NUISANCE_DIMS = 14
STAY = 0.85  # probability of repeating the previous label


@dataclass(frozen=True)
class Probe:
    """Held-out frame-label accuracy of a linear probe and its standard error.

    The standard error is that of the mean of the per-sequence accuracies (frames within a
    sequence are correlated, sequences are independent).
    """

    accuracy: float
    standard_error: float


@dataclass(frozen=True)
class Result:
    """Probe accuracies and the final training readouts (nats, mean of the last 20 steps)."""

    trained: Probe
    random: Probe
    single_view: Probe | None
    raw_frames: Probe
    chance_accuracy: float
    readout: float
    single_view_readout: float | None
    log_k: float
    seconds: float


def sample_labels(num_sequences: int, frames: int, generator: torch.Generator) -> Tensor:
    """Label sequences ``[N, T]`` from the sticky chain (uniform start, uniform jumps)."""
    labels = torch.empty(num_sequences, frames, dtype=torch.long)
    labels[:, 0] = torch.randint(0, NUM_LABELS, (num_sequences,), generator=generator)
    for t in range(1, frames):
        stay = torch.rand(num_sequences, generator=generator) < STAY
        jump = (labels[:, t - 1] + torch.randint(1, NUM_LABELS, (num_sequences,), generator=generator)) % NUM_LABELS
        labels[:, t] = torch.where(stay, labels[:, t - 1], jump)
    return labels


def emit_frames(labels: Tensor, generator: torch.Generator) -> Tensor:
    """Frames ``[N, T, D]``: label means on a circle in 2 dims (noise 0.5), nuisance N(0, 2^2) elsewhere."""
    angle = 2 * math.pi * labels.double() / NUM_LABELS
    means = torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)
    informative = means + 0.5 * torch.randn(means.shape, generator=generator, dtype=torch.float64)
    nuisance = 2.0 * torch.randn(labels.shape + (NUISANCE_DIMS,), generator=generator, dtype=torch.float64)
    return torch.cat([informative, nuisance], dim=-1).float()


def make_encoder(seed: int) -> nn.Module:
    """Per-frame MLP ``[..., D] -> [..., L]``: the label scores phi(X)_t."""
    torch.manual_seed(seed)
    dims = INFORMATIVE_DIMS + NUISANCE_DIMS
    return nn.Sequential(nn.Linear(dims, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, NUM_LABELS))


def probe(features_train: Tensor, labels_train: Tensor, features_test: Tensor, labels_test: Tensor) -> Probe:
    """Multinomial logistic regression on standardized features (L-BFGS), scored on held-out sequences.

    Args:
        features_train, features_test: ``[N, T, F]`` frame features.
        labels_train, labels_test: ``[N, T]`` frame labels.
    """
    flat_train, flat_test = (
        features_train.reshape(-1, features_train.shape[-1]),
        features_test.reshape(-1, features_test.shape[-1]),
    )
    mean, std = flat_train.mean(0), flat_train.std(0) + 1e-6
    x_train, x_test = ((flat_train - mean) / std).double(), ((flat_test - mean) / std).double()
    linear = nn.Linear(x_train.shape[1], NUM_LABELS).double()
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(linear(x_train), labels_train.reshape(-1))
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        correct = (linear(x_test).argmax(-1) == labels_test.reshape(-1)).double().reshape(labels_test.shape)
    per_sequence = correct.mean(1)
    return Probe(float(per_sequence.mean()), float(per_sequence.std() / math.sqrt(len(per_sequence))))


def train(
    encoder: nn.Module,
    graph: LabelGraph,
    steps: int,
    batch: int,
    frames: int,
    generator: torch.Generator,
    two_views: bool = True,
    lr: float = 3e-3,
) -> float:
    """Maximize sequence InfoNCE on fresh unlabeled batches; return the mean readout of the last 20 steps."""
    optimizer = torch.optim.Adam(encoder.parameters(), lr=lr)
    readouts = []
    for _ in range(steps):
        labels = sample_labels(batch, frames, generator)  # used only to emit frames, never seen by the loss
        view = encoder(emit_frames(labels, generator))
        other = encoder(emit_frames(labels, generator)) if two_views else None
        value = sequence_infonce(view, graph, other=other)
        optimizer.zero_grad()
        (-value).backward()
        optimizer.step()
        readouts.append(float(value.detach()))
    return sum(readouts[-20:]) / len(readouts[-20:])


def run(steps: int = 800, seed: int = 0, batch: int = 32, frames: int = 50, single_view: bool = True) -> Result:
    """Train (two views; optionally one view too), probe every encoder, return the numbers.

    Runs with one torch thread (restored afterwards): the recursion runs many small ops per frame,
    where a second thread only adds synchronization (and, on a busy machine, a lot of it).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(steps, seed, batch, frames, single_view)
    finally:
        torch.set_num_threads(threads)


def _run(steps: int, seed: int, batch: int, frames: int, single_view: bool) -> Result:
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    # The graph: a bigram model fit on label sequences alone (no frames), Laplace-smoothed.
    graph = bigram_graph(list(sample_labels(200, frames, generator)), num_labels=NUM_LABELS, smoothing=1.0)
    trained, random = make_encoder(seed), make_encoder(seed + 1)
    readout = train(trained, graph, steps, batch, frames, generator)
    one_view, one_view_readout = None, None
    if single_view:
        one_view = make_encoder(seed)
        one_view_readout = train(one_view, graph, steps, batch, frames, generator, two_views=False)
    labels = sample_labels(200, frames, generator)
    x = emit_frames(labels, generator)
    with torch.no_grad():
        probes = [
            probe(e(x[:100]), labels[:100], e(x[100:]), labels[100:]) if e is not None else None
            for e in (trained, random, one_view, nn.Identity())
        ]
    chance = float(torch.bincount(labels[100:].reshape(-1), minlength=NUM_LABELS).max()) / labels[100:].numel()
    return Result(
        probes[0],
        probes[1],
        probes[2],
        probes[3],
        chance,
        readout,
        one_view_readout,
        math.log(batch),
        time.perf_counter() - start,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-single-view", action="store_true", help="skip the single-view comparison")
    args = parser.parse_args()
    r = run(steps=args.steps, seed=args.seed, single_view=not args.no_single_view)

    def show(name: str, p: Probe) -> None:
        print(f"  {name:<46} {p.accuracy:.3f} +- {p.standard_error:.3f}")

    print(f"sequence InfoNCE readout, two views (last 20 steps): {r.readout:.3f} nats (ceiling log K = {r.log_k:.3f})")
    print("linear-probe frame-label accuracy on held-out sequences (+- one standard error):")
    show("trained encoder (two-view sequence InfoNCE)", r.trained)
    show("random encoder", r.random)
    if r.single_view is not None:
        show(f"trained encoder, single view (readout {r.single_view_readout:.3f})", r.single_view)
    show("reference: probe on the raw frames", r.raw_frames)
    print(f"  {'majority label (chance)':<46} {r.chance_accuracy:.3f}")
    print(f"wall time {r.seconds:.0f} s")


if __name__ == "__main__":
    main()
