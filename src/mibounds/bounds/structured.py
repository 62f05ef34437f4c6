r"""Bounds that need tractable densities instead of (or besides) a learned critic.

``log_conditional[i, j] = log p(y_j | x_i)`` (or a variational q(y_j | x_i)) follows the score
convention: positives on the diagonal, rows indexed by x, columns by y. The upper bounds hold
when the conditional is the true one (the rate bound for any marginal q(y)); with a variational
conditional they are estimates, not guarantees.

Example:
    With an uninformative conditional (the same density for every x) every bound is 0 nats:

    >>> import torch
    >>> from mibounds.bounds.structured import club, rate, tnce
    >>> log_conditional = torch.zeros(8, 8, dtype=torch.float64)
    >>> float(tnce(log_conditional)), float(club(log_conditional))
    (0.0, 0.0)
    >>> float(rate(log_conditional, torch.zeros(8, dtype=torch.float64)))
    0.0

References:
    Poole, Ozair, van den Oord, Alemi, Tucker (2019). On Variational Bounds of Mutual Information.
    ICML. arXiv:1905.06922.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mibounds.bounds._reductions import logmeanexp_columns_offdiagonal, mean_offdiagonal
from mibounds.bounds.lower import infonce
from mibounds.validation import check_log_baseline, check_scores, warn_if_not_finite

__all__ = ["ba", "club", "leave_one_out_upper", "rate", "tnce", "uba"]


def _check_vector(values: Tensor, name: str, k: int | None = None) -> Tensor:
    if not isinstance(values, Tensor) or not torch.is_floating_point(values):
        raise TypeError(f"{name} must be a floating-point torch.Tensor, got {type(values).__name__}")
    if values.dim() != 1 or (k is not None and values.shape[0] != k):
        want = f"[K] = [{k}]" if k is not None else "[K]"
        raise ValueError(f"{name} must be a vector {want}, one entry per pair, got shape {tuple(values.shape)}")
    warn_if_not_finite(values, name)
    return values


def _positives(log_conditional: Tensor, name: str = "log_conditional") -> Tensor:
    """The joint terms (e.g. log p(y_i | x_i)): the diagonal of a [K, K] matrix, or a [K] vector as is."""
    if isinstance(log_conditional, Tensor) and log_conditional.dim() == 1:
        return _check_vector(log_conditional, name)
    return check_scores(log_conditional, name).diagonal()


def ba(log_q_x_given_y: Tensor, entropy_x: float | Tensor) -> Tensor:
    r"""Barber–Agakov lower bound with a tractable decoder q(x|y).

    .. math::
        I_\mathrm{BA} = \mathbb{E}_{p(x,y)}[\log q(x|y)] + h(X) \le I(X; Y)

    The gap is :math:`\mathbb{E}_{p(y)} \mathrm{KL}(p(x|y) \| q(x|y))`.

    Args:
        log_q_x_given_y: ``[K]``, :math:`\log q(x_i | y_i)` for the K joint pairs.
        entropy_x: Differential entropy h(X) in nats (known, e.g. from the data distribution).

    Returns:
        0-d tensor, the bound in nats.

    Reference:
        Barber, Agakov (2003); Poole et al. (2019), eq. 2.
    """
    log_q = _check_vector(log_q_x_given_y, "log_q_x_given_y")
    return log_q.mean() + torch.as_tensor(entropy_x, dtype=log_q.dtype, device=log_q.device)


def uba(scores: Tensor, log_partition: Tensor | float) -> Tensor:
    r"""Unnormalized Barber–Agakov bound :math:`I_\mathrm{UBA}` with a given log-partition.

    Barber–Agakov (:func:`ba`) with the unnormalized decoder
    :math:`q(x|y) = p(x)\, e^{f(x,y)} / Z(y)`, :math:`Z(y) = \mathbb{E}_{p(x)} e^{f(x,y)}`:

    .. math::
        I_\mathrm{UBA} = \mathbb{E}_{p(x,y)}[f(x,y)] - \mathbb{E}_{p(y)}[\log Z(y)]
        \approx \frac1K\sum_i \big(S_{ii} - \log Z(y_i)\big) \le I(X; Y)

    The gap is :math:`\mathbb{E}_{p(y)}\mathrm{KL}(p(x|y) \| q(x|y))`; it is zero for
    :math:`f = \log p(x,y)/p(x)p(y) + c(y)` (any function c of y). The partition is the one of
    the package's convention, over x for each y; I is symmetric, so the bound also holds with the
    roles swapped, which is the form of supervised MMI (the partition over label sequences for each
    input: :func:`mibounds.sequence.mmi`, where :math:`I_\mathrm{UBA} = F_\mathrm{MMI} + H(Y)` as in
    Wiesner's "Variational Bounds on Mutual Information").
    :math:`\log Z` is intractable for a learned critic: bounding it by
    :math:`\log Z \le Z/a + \log a - 1` gives :func:`~mibounds.bounds.tuba` (equal to it when
    :math:`a = Z`), and replacing its average over y by the log of one average gives
    :func:`~mibounds.bounds.dv` (below UBA, Jensen).

    Args:
        scores: ``[K, K]`` critic scores ``scores[i, j] = f(x_i, y_j)`` (the diagonal is used) or
            the ``[K]`` vector of the joint scores :math:`f(x_i, y_i)`.
        log_partition: :math:`\log Z(y_i)` in nats, a scalar or ``[K]`` indexed by the pair
            (the column j of the score matrix), known in closed form or computed exactly (e.g. by
            forward–backward over a label graph).

    Returns:
        0-d tensor, the bound in nats.

    Example:
        The optimal critic plus a function of y, with that function as its log-partition:

        >>> import torch
        >>> log_ratio = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
        >>> c = torch.tensor([0.5, -2.0])
        >>> float(uba(log_ratio + c, c))
        1.0

    Reference:
        Poole et al. (2019), §2.2 ("unnormalized lower bounds"); Barber, Agakov (2003).
    """
    positives = _positives(scores, "scores")
    log_partition = check_log_baseline(log_partition, positives.shape[0], "log_partition").to(positives)
    return (positives - log_partition).mean()


def tnce(log_conditional: Tensor) -> Tensor:
    r"""InfoNCE with the critic :math:`\log p(y|x)` of a tractable encoder.

    InfoNCE is invariant to adding a function of y alone to the scores (the logsumexp runs over x
    for each y), so this equals InfoNCE with the optimal critic :math:`\log p(x,y)/p(x)p(y)`
    whenever the conditional is exact: a lower bound, at most :math:`\log K`.

    Args:
        log_conditional: ``[K, K]``, ``[i, j] = log p(y_j | x_i)``.

    Returns:
        0-d tensor, the bound in nats.

    Reference:
        Poole et al. (2019), §2.3 and §4 ("TNCE").
    """
    return infonce(check_scores(log_conditional, "log_conditional"))


def rate(log_conditional: Tensor, log_marginal: Tensor) -> Tensor:
    r"""Rate upper bound :math:`R = \mathbb{E}_{p(x)}\mathrm{KL}(p(y|x) \| q(y)) \ge I(X; Y)`.

    Monte-Carlo estimate over the joint pairs:

    .. math::
        R \approx \frac1K\sum_i \left(\log p(y_i|x_i) - \log q(y_i)\right)

    The gap is :math:`\mathrm{KL}(p(y) \| q(y))`, so it holds for any marginal q.

    Args:
        log_conditional: ``[K, K]`` with ``[i, j] = log p(y_j | x_i)`` (the diagonal is used) or
            the ``[K]`` vector of :math:`\log p(y_i | x_i)`.
        log_marginal: ``[K]``, :math:`\log q(y_i)`.

    Returns:
        0-d tensor, the bound in nats.

    Reference:
        Alemi et al. (2017), Deep VIB; Poole et al. (2019), eq. 1.
    """
    positives = _positives(log_conditional)
    log_marginal = _check_vector(log_marginal, "log_marginal", positives.shape[0])
    return (positives - log_marginal).mean()


def leave_one_out_upper(log_conditional: Tensor) -> Tensor:
    r"""Leave-one-out minibatch upper bound: the rate with q(y) replaced by the batch mixture.

    .. math::
        I \le \mathbb{E}\left[\frac1K\sum_j \log \frac{p(y_j|x_j)}
            {\frac{1}{K-1}\sum_{i\ne j} p(y_j|x_i)}\right]

    Holds in expectation for the true conditional (Jensen on the mixture of K - 1 independent x).

    Args:
        log_conditional: ``[K, K]``, ``[i, j] = log p(y_j | x_i)``.

    Returns:
        0-d tensor, the estimate in nats.

    Reference:
        Poole et al. (2019), eq. 13.
    """
    check_scores(log_conditional, "log_conditional")
    return (log_conditional.diagonal() - logmeanexp_columns_offdiagonal(log_conditional)).mean()


def club(log_conditional: Tensor) -> Tensor:
    r"""Contrastive log-ratio upper bound (CLUB).

    .. math::
        I_\mathrm{CLUB} = \mathbb{E}_{p(x,y)}[\log p(y|x)] - \mathbb{E}_{p(x)p(y)}[\log p(y|x)]

    estimated with the diagonal and the off-diagonal pairs. For the true conditional,
    :math:`I_\mathrm{CLUB} - I = \mathbb{E}_{p(x)}\mathrm{KL}(p(y) \| p(y|x)) \ge 0`.

    Args:
        log_conditional: ``[K, K]``, ``[i, j] = log p(y_j | x_i)``.

    Returns:
        0-d tensor, the estimate in nats.

    Reference:
        Cheng et al. (2020). CLUB: A Contrastive Log-ratio Upper Bound of Mutual Information. ICML.
        arXiv:2006.12013.
    """
    check_scores(log_conditional, "log_conditional")
    return log_conditional.diagonal().mean() - mean_offdiagonal(log_conditional)
