"""Independent, loop-based reference implementations of the bounds, written from the formulas in
Poole et al. (2019) without the vectorized helpers of the package. Slow; float64; tests only."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _lme(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def _offdiag(s: Tensor) -> list[tuple[int, int]]:
    k = s.shape[0]
    return [(i, j) for i in range(k) for j in range(k) if i != j]


def tuba(s: Tensor, la: Tensor) -> float:
    k = s.shape[0]
    la = la.expand(k)
    joint = sum(float(s[i, i] - la[i]) for i in range(k)) / k
    part = sum(math.exp(float(s[i, j] - la[j])) for i, j in _offdiag(s)) / (k * (k - 1))
    return 1 + joint - part


def dv(s: Tensor) -> float:
    k = s.shape[0]
    return sum(float(s[i, i]) for i in range(k)) / k - _lme([float(s[i, j]) for i, j in _offdiag(s)])


def infonce(s: Tensor) -> float:
    k = s.shape[0]
    total = 0.0
    for j in range(k):
        column = [float(s[i, j]) for i in range(k)]
        total += float(s[j, j]) - _lme(column)  # log K + S_jj - logsumexp = S_jj - logmeanexp
    return total / k


def k_pair_loss(s: Tensor) -> float:
    """Sohn's (2016) multi-class K-pair loss with the rows as anchors:
    (1/K) sum_a log(1 + sum_{b != a} exp(s[a, b] - s[a, a]))."""
    k = s.shape[0]
    return sum(math.log1p(sum(math.exp(float(s[a, b] - s[a, a])) for b in range(k) if b != a)) for a in range(k)) / k


def js_fgan(s: Tensor) -> float:
    k = s.shape[0]
    sp = lambda t: math.log1p(math.exp(-abs(t))) + max(t, 0.0)  # noqa: E731
    joint = sum(-sp(-float(s[i, i])) for i in range(k)) / k
    return joint - sum(sp(float(s[i, j])) for i, j in _offdiag(s)) / (k * (k - 1))


def interpolated(s: Tensor, la: Tensor, alpha: float) -> float:
    """Poole et al. eq. 11 with the leave-one-out mixture, term by term."""
    k = s.shape[0]
    la = la.expand(k)

    def log_mixture(left_out: int, j: int) -> float:
        loo = _lme([float(s[i, j]) for i in range(k) if i != left_out])
        if alpha == 1:
            return loo
        return math.log(alpha * math.exp(loo) + (1 - alpha) * math.exp(float(la[j])))

    joint = sum(float(s[j, j]) - log_mixture(kk, j) for kk, j in _offdiag(s)) / (k * (k - 1))
    part = sum(math.exp(float(s[i, j]) - log_mixture(j, j)) for i, j in _offdiag(s)) / (k * (k - 1))
    return 1 + joint - part


def leave_one_out_upper(lc: Tensor) -> float:
    k = lc.shape[0]
    return sum(float(lc[j, j]) - _lme([float(lc[i, j]) for i in range(k) if i != j]) for j in range(k)) / k


def club(lc: Tensor) -> float:
    k = lc.shape[0]
    off = sum(float(lc[i, j]) for i, j in _offdiag(lc)) / (k * (k - 1))
    return sum(float(lc[i, i]) for i in range(k)) / k - off


def call(name: str, scores: Tensor, log_baseline: Tensor | None = None, **params) -> Tensor:
    """Evaluate a score-based bound by registry name through its module (zero baseline if needed)."""
    from mibounds import bounds

    module = bounds.make(name, **params)
    if module.needs_baseline and log_baseline is None:
        log_baseline = torch.zeros(scores.shape[0], dtype=scores.dtype)
    return module(scores, log_baseline if module.needs_baseline else None)
