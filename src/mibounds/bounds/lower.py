r"""Lower bounds on mutual information as pure functions of a score matrix.

Conventions (docs/design.md §2):

- ``scores[i, j] = f(x_i, y_j)`` for a batch of K pairs ``(x_i, y_i)`` drawn from p(x, y). The
  diagonal holds K samples of the joint; the K(K-1) off-diagonal entries stand for samples of
  p(x)p(y).
- Partition functions are taken over x for a fixed y: :math:`Z(y_j) \approx \mathrm{mean}_i\,
  e^{f(x_i, y_j)}`, so InfoNCE classifies, for each y_j, which x it came with.
- A baseline :math:`\log a(y)` is a scalar or a vector ``[K]`` indexed by the column j.
- Every function returns a 0-d tensor whose **value** is the estimate in nats and whose
  **gradient** is the intended training gradient; a training loop minimizes ``-bound``. Where the two
  differ (``js``, ``smile``, ``mine``) the value is spliced onto the training objective with
  ``objective + (value - objective).detach()``.

References:
    Poole, Ozair, van den Oord, Alemi, Tucker (2019). On Variational Bounds of Mutual Information.
    ICML. arXiv:1905.06922.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibounds.bounds._reductions import (
    exp_linearized,
    leave_one_out_logmeanexp,
    logmeanexp_offdiagonal,
    mean_offdiagonal,
    softplus,
)
from mibounds.validation import check_log_baseline, check_positive, check_probability, check_scores

__all__ = [
    "dv",
    "infonce",
    "interpolated",
    "js",
    "js_fgan",
    "mine",
    "nwj",
    "smile",
    "tuba",
    "value_with_gradient_of",
]


def value_with_gradient_of(value: Tensor, objective: Tensor) -> Tensor:
    """A tensor equal to ``value`` whose gradient is the gradient of ``objective``."""
    return objective + (value - objective).detach()


def tuba(scores: Tensor, log_baseline: Tensor | float) -> Tensor:
    r"""Tractable unnormalized Barber–Agakov bound :math:`I_\mathrm{TUBA}`.

    .. math::
        I_\mathrm{TUBA} = 1 + \mathbb{E}_{p(x,y)}[f(x,y) - \log a(y)]
            - \mathbb{E}_{p(x)p(y)}\left[e^{f(x,y)} / a(y)\right]
        \approx 1 + \frac1K\sum_i (S_{ii} - \log a_i)
            - \frac{1}{K(K-1)}\sum_{i\ne j} e^{S_{ij} - \log a_j}

    Tight for :math:`f(x, y) - \log a(y) = \log p(x,y)/p(x)p(y)`.

    Args:
        scores: ``[K, K]`` critic scores, ``scores[i, j] = f(x_i, y_j)``.
        log_baseline: :math:`\log a(y)`, a scalar or ``[K]`` indexed by the column j.

    Returns:
        0-d tensor, the bound in nats (value and gradient).

    Example:
        >>> import torch
        >>> float(tuba(torch.zeros(4, 4), 0.0))
        0.0

    Reference:
        Poole et al. (2019), eq. 5.
    """
    check_scores(scores)
    log_baseline = check_log_baseline(log_baseline, scores.shape[0]).to(scores)
    shifted = scores - log_baseline  # broadcasts a [K] baseline over rows: column j gets a_j
    joint = shifted.diagonal().mean()
    partition = exp_linearized(logmeanexp_offdiagonal(shifted))
    return 1.0 + joint - partition


def nwj(scores: Tensor) -> Tensor:
    r"""Nguyen–Wainwright–Jordan bound (f-GAN KL, MINE-f): TUBA with :math:`\log a(y) = 1`.

    .. math::
        I_\mathrm{NWJ} = \mathbb{E}_{p(x,y)}[f] - e^{-1}\,\mathbb{E}_{p(x)p(y)}[e^{f}]

    Tight for the critic :math:`f^* = 1 + \log p(x,y)/p(x)p(y)`. For a fixed critic the batch
    estimate is unbiased: its partition term averages :math:`\mathbb{E}_{p(x)p(y)}[e^{f-1}]`
    exactly, so over many batches it is at most I (equal at the optimum). Its variance grows like
    :math:`e^{I}`, and *unbiased* says nothing about a typical batch: at the optimum the
    off-diagonal terms are the density ratios of independent pairs, which average 1 but are
    heavy-tailed, so most batches see only small ones and report **more** than I, and the mean
    comes down to I through rare batches holding one huge ratio, whose value is very negative.
    With the optimal critic of the 20-d Gaussian at I = 10 nats and K = 64, over 20,000 batches:
    mean 9.98, median 10.64, 81 % of batches above 10; the lowest 1 % average −35.6 (the lowest
    −1534), and without them the mean is 10.44 (``tests/bounds/test_finite_batch.py`` checks the
    median with a sign test).

    Args:
        scores: ``[K, K]`` critic scores.

    Returns:
        0-d tensor, the bound in nats.

    Reference:
        Nguyen, Wainwright, Jordan (2010); Poole et al. (2019), eq. 6.
    """
    return tuba(scores, 1.0)


def dv(scores: Tensor) -> Tensor:
    r"""Donsker–Varadhan bound.

    .. math::
        I_\mathrm{DV} = \mathbb{E}_{p(x,y)}[f] - \log \mathbb{E}_{p(x)p(y)}[e^{f}]
        \approx \frac1K\sum_i S_{ii} - \log\frac{1}{K(K-1)}\sum_{i\ne j} e^{S_{ij}}

    Invariant to adding a constant to the scores; always ``>= nwj`` on the same scores
    (:math:`\log u \le u/e`). The batch estimate of the log-partition is biased (Jensen).

    Args:
        scores: ``[K, K]`` critic scores.

    Returns:
        0-d tensor, the bound in nats.

    Reference:
        Donsker, Varadhan (1983); Belghazi et al. (2018), MINE.
    """
    check_scores(scores)
    return scores.diagonal().mean() - logmeanexp_offdiagonal(scores)


def infonce(scores: Tensor, symmetric: bool = False) -> Tensor:
    r"""InfoNCE / CPC bound.

    .. math::
        I_\mathrm{NCE} = \log K + \frac1K\sum_j \left(S_{jj} - \log\sum_i e^{S_{ij}}\right)
        \le \log K

    For each y_j, a K-way classification of which x it came with (logsumexp over ``dim=0``).
    ``symmetric=True`` averages this with the other direction (for each x_i, which y;
    logsumexp over ``dim=1``), the usual two-view training loss. Never exceeds :math:`\log K`.

    InfoNCE is log K minus Sohn's multi-class K-pair (N-pair) loss of metric learning. Since
    :math:`\log\sum_i e^{S_{ij}} - S_{jj} = \log\big(1 + \sum_{i \ne j} e^{S_{ij} - S_{jj}}\big)`,

    .. math::
        I_\mathrm{NCE} = \log K - \frac1K\sum_j \log\Big(1 + \sum_{i\ne j} e^{S_{ij} - S_{jj}}\Big)
        = \log K - L_\text{K-pair}(S^\top),

    where :math:`L_\text{K-pair}(M) = \frac1K\sum_a \log(1 + \sum_{b \ne a} e^{M_{ab} - M_{aa}})` is
    Sohn's loss with the rows as anchors (his anchors are the x's, his critic the inner product
    :math:`\phi(x)^\top\phi(y)` of a separable critic). Here the y's are the anchors; Sohn's own
    orientation is ``log K - infonce(S.T)``, and ``symmetric=True`` is log K minus the average of
    :math:`L_\text{K-pair}(S)` and :math:`L_\text{K-pair}(S^\top)`. The identity is exact for every
    score matrix (``tests/bounds/test_algebra.py``, float64 to 1e-12).

    Args:
        scores: ``[K, K]`` critic scores.
        symmetric: Average both classification directions.

    Returns:
        0-d tensor, the bound in nats.

    Example:
        >>> import math, torch
        >>> float(infonce(torch.zeros(8, 8, dtype=torch.float64)))
        0.0
        >>> s = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.3], [1.5, -0.2, 0.7]], dtype=torch.float64)
        >>> gaps = s - s.diagonal()  # gaps[i, j] = S_ij - S_jj: y_j is the anchor
        >>> k_pair = torch.log1p(gaps.exp().sum(dim=0) - 1.0).mean()
        >>> round(float(infonce(s)), 12) == round(math.log(3) - float(k_pair), 12)
        True

    Reference:
        van den Oord, Li, Vinyals (2018), CPC; Poole et al. (2019), eq. 10 and §5 (the connection to
        metric learning); Sohn (2016), Improved Deep Metric Learning with Multi-class N-pair Loss
        Objective, NeurIPS.
    """
    check_scores(scores)
    positives = scores.diagonal()
    per_y = (positives - torch.logsumexp(scores, dim=0)).mean()
    if symmetric:
        per_x = (positives - torch.logsumexp(scores, dim=1)).mean()
        per_y = 0.5 * (per_y + per_x)
    return math.log(scores.shape[0]) + per_y


def js_fgan(scores: Tensor) -> Tensor:
    r"""The f-GAN Jensen–Shannon objective (not itself an MI bound; it is what ``js`` trains).

    .. math::
        \mathbb{E}_{p(x,y)}[-\mathrm{softplus}(-f)] - \mathbb{E}_{p(x)p(y)}[\mathrm{softplus}(f)]

    Maximized by :math:`f^* = \log p(x,y)/p(x)p(y)`.

    Args:
        scores: ``[K, K]`` critic scores, or a stack ``[..., K, K]`` of independent ones (the
            members of a cross-fitted estimate: one call for all).

    Returns:
        0-d tensor (``[...]`` for a stack: each matrix's value, the same numbers as one call each).

    Reference:
        Nowozin, Cseke, Tomioka (2016); Hjelm et al. (2019), Deep InfoMax.
    """
    check_scores(scores, stacked=True)
    joint = -softplus(-scores.diagonal(dim1=-2, dim2=-1)).mean(-1)
    return joint - mean_offdiagonal(softplus(scores))


def js(scores: Tensor) -> Tensor:
    r"""Jensen–Shannon-trained critic, reporting NWJ: the gradient of :func:`js_fgan`, the value of
    :func:`nwj` on ``scores + 1``.

    The JS objective is maximized by :math:`f^* = \log r` with
    :math:`r = p(x,y)/p(x)p(y)`, while NWJ is tight at :math:`1 + \log r`. So the critic trained
    by JS is shifted by one before NWJ is evaluated:

    .. math::
        \mathrm{value} = I_\mathrm{NWJ}(f + 1) = 1 + \mathbb{E}_{p(x,y)}[f] - \mathbb{E}_{p(x)p(y)}[e^{f}]

    which equals I exactly at :math:`f = \log r` (and is still a valid lower bound for any f).

    Args:
        scores: ``[K, K]`` critic scores.

    Returns:
        0-d tensor: value in nats, gradient of the JS objective.

    Reference:
        Poole et al. (2019), §2.3 ("JS" in their experiments); Hjelm et al. (2019).
    """
    return value_with_gradient_of(nwj(scores + 1.0), js_fgan(scores))


def smile(scores: Tensor, clip: float | None = 5.0) -> Tensor:
    r"""SMILE: DV value with the partition term of clipped scores, trained with the JS gradient.

    .. math::
        \mathrm{value} = \mathbb{E}_{p(x,y)}[f]
            - \log \mathbb{E}_{p(x)p(y)}\left[e^{\mathrm{clip}(f, -\tau, \tau)}\right]

    Clipping bounds the variance of the partition estimate at the price of bias. ``clip=None``
    (:math:`\tau = \infty`) is DV with the JS gradient.

    Args:
        scores: ``[K, K]`` critic scores.
        clip: :math:`\tau > 0` (Song & Ermon recommend 5, the default), or None for no clipping.

    Returns:
        0-d tensor: value in nats, gradient of the JS objective.

    Reference:
        Song, Ermon (2020). Understanding the Limitations of Variational Mutual Information
        Estimators. ICLR. arXiv:1910.06222.
    """
    check_scores(scores)
    clipped = scores
    if clip is not None:
        clip = check_positive(clip, "clip")
        clipped = scores.clamp(-clip, clip)
    value = scores.diagonal().mean() - logmeanexp_offdiagonal(clipped)
    return value_with_gradient_of(value, js_fgan(scores))


def mine(scores: Tensor, log_moving_average: Tensor | float) -> Tensor:
    r"""MINE: the DV value, with the partition gradient divided by a moving average.

    The DV gradient :math:`\nabla\log\mathbb{E}_q[e^f] = \mathbb{E}_q[e^f \nabla f] /
    \mathbb{E}_q[e^f]` is biased on a minibatch; MINE replaces the denominator by a moving
    average :math:`m` over batches. The training objective is

    .. math::
        \mathbb{E}_{p(x,y)}[f] - \mathbb{E}_{p(x)p(y)}[e^{f}] / \mathrm{sg}(m)

    and the reported value is :func:`dv`. The state lives in :class:`mibounds.bounds.MINE`, which
    updates :math:`\log m` and calls this function.

    Args:
        scores: ``[K, K]`` critic scores.
        log_moving_average: :math:`\log m`, 0-d (no gradient flows into it).

    Returns:
        0-d tensor: value DV in nats, gradient of the MINE objective.

    Reference:
        Belghazi et al. (2018). Mutual Information Neural Estimation. ICML. arXiv:1801.04062.
    """
    check_scores(scores)
    log_m = torch.as_tensor(log_moving_average, dtype=scores.dtype, device=scores.device).detach()
    log_partition = logmeanexp_offdiagonal(scores)
    objective = scores.diagonal().mean() - exp_linearized(log_partition - log_m)
    value = scores.diagonal().mean() - log_partition
    return value_with_gradient_of(value, objective)


def interpolated(scores: Tensor, log_baseline: Tensor | float, alpha: float) -> Tensor:
    r"""The interpolated bound :math:`I_\alpha` between InfoNCE (α = 1) and TUBA (α = 0).

    TUBA (:func:`tuba`) with the baseline replaced by a mixture of the leave-one-out batch
    average of the critic and a learned baseline:

    .. math::
        \log b_k(y_j) = \log\left(\alpha\, m(y_j; x_{-k}) + (1-\alpha)\, a(y_j)\right),\qquad
        m(y_j; x_{-k}) = \frac{1}{K-1}\sum_{i\ne k} e^{S_{ij}}

        I_\alpha = 1 + \frac{1}{K(K-1)}\sum_{k\ne j}\left(S_{jj} - \log b_k(y_j)\right)
            - \frac{1}{K(K-1)}\sum_{i\ne j} e^{S_{ij} - \log b_j(y_j)}

    In the joint term the positive x_j stays in the mixture (x_k is left out); in the partition
    term the positive is the one left out, so the mixture holds only samples independent of y_j.

    Limits (both exact identities): α = 0 gives :func:`tuba` with the same baseline; α = 1 gives
    the partition term exactly 1 and the joint term InfoNCE on the K leave-one-out sub-batches of
    size K - 1 (remove pair k, average :func:`infonce` over k).

    Ceiling. Each joint term is at most :math:`\log((K-1)/\alpha)`, since the mixture holds
    :math:`\alpha e^{S_{jj}}/(K-1)`, and the partition term is positive, so for α < 1

    .. math::
        I_\alpha < 1 + \log\frac{K-1}{\alpha},

    a supremum the value approaches when the positives' scores dominate the mixture and the
    baseline dominates the negatives (``S_jj`` large, ``S_ij`` small, a(y) = 1: tested to 1e-9).
    At α = 1 the partition term is exactly 1 and the ceiling is :math:`\log(K-1)`. The registry
    reports these (:func:`mibounds.bounds.get` ``("interpolated").ceiling_for``). **The ceiling
    log(K/α) stated by Poole et al. (2019, §2.4) is wrong** for every α < 1: it is below ours by
    :math:`1 - \log(K/(K-1))`, and real batches exceed it, not only constructed scores. With the
    optimal critic of the 20-d Gaussian at I = 10 nats, K = 64 and a(y) = 1, every one of 2,000
    batches is above it: mean 5.56 against log(64/0.5) = 4.85 at α = 0.5 (ceiling 5.84), and
    4.75 against 4.17 at α = 0.99 (ceiling 5.15) (``tests/bounds/test_finite_batch.py``).

    Args:
        scores: ``[K, K]`` critic scores.
        log_baseline: :math:`\log a(y)`, a scalar or ``[K]`` indexed by the column j.
        alpha: Mixing weight in [0, 1].

    Returns:
        0-d tensor, the bound in nats.

    Reference:
        Poole et al. (2019), eq. 11 (§2.4).
    """
    check_scores(scores)
    alpha = check_probability(alpha, "alpha")
    k = scores.shape[0]
    log_a = check_log_baseline(log_baseline, k).to(scores).expand(k)
    if alpha == 0.0:
        return tuba(scores, log_a)
    log_mixture = leave_one_out_logmeanexp(scores)  # [k (left out), j]
    if alpha < 1.0:
        log_mixture = torch.logaddexp(log_mixture + math.log(alpha), log_a[None, :] + math.log1p(-alpha))
    joint = mean_offdiagonal(scores.diagonal()[None, :] - log_mixture)
    partition = exp_linearized(logmeanexp_offdiagonal(scores - log_mixture.diagonal()[None, :]))
    return 1.0 + joint - partition
