"""Build the estimator's fold critics from its settings: :func:`build_fold_critic`.

Member m of the stack scores pairs with a Gaussian critic fitted in closed form on its training
and validation folds (the exact log density ratio when the dependence is a Gaussian copula, at
any MI) plus a learned residual critic that starts at zero, and carries its own bound (and
baseline, for bounds that need one).

Example:
    >>> import numpy as np, torch
    >>> from mibounds.estimation.fold_critics import build_fold_critic
    >>> from mibounds.estimation.settings import EstimatorSettings
    >>> from mibounds.estimation.training import fold_plan
    >>> x = torch.randn(100, 2)
    >>> plan = fold_plan(100, 5, np.random.default_rng(0))
    >>> model, name = build_fold_critic(EstimatorSettings(), x, x + torch.randn(100, 2), plan)
    >>> name, model(x[:8], x[:8]).shape  # [members, K, K]
    ('gaussian+mixture', torch.Size([5, 8, 8]))
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mibounds import bounds, critics
from mibounds.estimation.gaussian_fits import Moments, fold_moments, member_fit
from mibounds.estimation.heldout import EVALUATION_BLOCK, PAIRWISE_ROWS, off_diagonal_log_sums
from mibounds.estimation.member_groups import map_members
from mibounds.estimation.settings import EstimatorSettings
from mibounds.estimation.training import FoldCritic, FoldPlan, MemberList

__all__ = ["CHEAP_SCORES", "GaussianValidation", "build_fold_critic", "fit_rows", "gaussian_validation_values"]

# Named critics with a stacked form that runs the M members in one pass.
_STACKED = {
    "separable": "StackedSeparableCritic",
    "mixture": "StackedMixtureCritic",
    "concat": "StackedConcatCritic",
}
#: Critics whose score matrix of a block of B rows costs O(B) network evaluations (the others
#: need a network call per pair, so they are evaluated over smaller blocks).
CHEAP_SCORES = frozenset({"separable", "mixture", "bilinear"})


def fit_rows(plan: FoldPlan) -> int:
    """Rows each Gaussian critic is fitted on (its training and validation folds; the smallest)."""
    return min(len(plan.training(m)) + len(plan.validation(m)) for m in range(plan.num_folds))


@dataclass(frozen=True)
class GaussianValidation:
    r"""Each member's Gaussian critic (fitted on its training folds) on its validation fold.

    Attributes:
        log_ratio: ``[M]`` the mean log ratio of the fold's pairs.
        log_normalizer: ``[M]`` :math:`\log \hat E_q \hat r` over the fold's independent pairs.
    """

    log_ratio: np.ndarray
    log_normalizer: np.ndarray

    @property
    def donsker_varadhan(self) -> np.ndarray:
        """``[M]`` the Donsker–Varadhan values, ``log_ratio - log_normalizer``: below I for any critic."""
        return self.log_ratio - self.log_normalizer

    @property
    def pooled_log_normalizer(self) -> float:
        r""":math:`\log \frac1M \sum_m \hat Z_m`: the members' normalizers pooled (0 for a density ratio)."""
        return float(np.logaddexp.reduce(self.log_normalizer) - math.log(len(self.log_normalizer)))


def gaussian_validation_values(
    x: Tensor,
    y: Tensor,
    plan: FoldPlan,
    rank: int | None = None,
    moments: list[Moments] | None = None,
    fits: list[critics.GaussianCritic] | None = None,
    groups: int = 1,
) -> GaussianValidation:
    r"""The Gaussian critic of each member's training folds on the rows of its validation fold.

    Member m's Gaussian is fitted on its training folds alone and scored on the pairs of its
    validation fold, within blocks of at most :data:`~mibounds.estimation.heldout.EVALUATION_BLOCK`
    rows (of its first :data:`~mibounds.estimation.heldout.PAIRWISE_ROWS` rows, a random subset):
    the mean log ratio of the paired rows, and the log-mean ratio over the independent pairs
    :math:`(x_i, y_j)`, :math:`i \ne j`. A density ratio has :math:`E_q r = 1`, so by Markov's
    inequality a pooled log-mean above :math:`\log(1 / \alpha)` shows at level :math:`\alpha`
    that the Gaussian is no model of these rows' density ratio (rows on a low-dimensional manifold
    of a wide space make its covariance near-singular and its ratio explode), and
    :mod:`mibounds.estimation.model_check` explains why that matters; the difference of the two is
    a held-out Donsker–Varadhan lower bound on I (:mod:`~mibounds.estimation.unmixing` compares
    two representations of the rows by it).

    Args:
        x: Scaled rows of x ``[n, dx]``.
        y: Scaled rows of y ``[n, dy]``.
        plan: The fold plan.
        rank: Canonical pairs the Gaussian keeps (:mod:`~mibounds.estimation.gaussian_fits`; None: all).
        moments: :func:`~mibounds.estimation.gaussian_fits.fold_moments` of the rows, if at hand.
        fits: Each member's Gaussian critic of its training folds, if at hand (else fitted here).
        groups: Groups of members scored at once, on a thread each (:mod:`~mibounds.estimation.member_groups`).

    Returns:
        The members' :class:`GaussianValidation` (nats).
    """
    if fits is None:
        moments = moments or fold_moments(x, y, plan)
        fits = [member_fit(moments, {m, (m + 1) % plan.num_folds}, x.shape[1], rank) for m in range(plan.num_folds)]
    critics_of = fits  # bound here: the closure sees a list, not an optional

    def member(m: int) -> tuple[float, float]:
        held = torch.as_tensor(plan.validation(m)[:PAIRWISE_ROWS], device=x.device)
        # Over blocks of the fold, as the held-out evaluation scores pairs: a fold's full square
        # would hold n^2 / 25 scores (1.3 TB at n = 2,000,000).
        critic, positives, sums = critics_of[m], [], []
        for block in held.split(EVALUATION_BLOCK):
            scores = critic(x[block].double(), y[block].double())
            positives.append(scores.diagonal())
            sums.append(off_diagonal_log_sums(scores))
        pairs = sum(count for _, _, count in sums)
        log_mean = float(torch.logsumexp(torch.stack([log_sum for log_sum, _, _ in sums]), 0)) - math.log(pairs)
        return float(torch.cat(positives).mean()), log_mean

    values = np.array(map_members(member, plan.num_folds, groups))
    return GaussianValidation(values[:, 0], values[:, 1])


def build_fold_critic(
    settings: EstimatorSettings,
    x: Tensor,
    y: Tensor,
    plan: FoldPlan,
    rank: int | None = None,
    moments: list[Moments] | None = None,
) -> tuple[FoldCritic, str]:
    """The fold critics: a Gaussian base and a residual per fold, a bound (and baseline) each.

    Args:
        settings: The estimator's settings (bound, critic, gaussian, critic and bound options).
        x: Scaled rows of x ``[n, dx]`` (the Gaussian critics are fitted on their folds' rows).
        y: Scaled rows of y ``[n, dy]``.
        plan: The fold plan.
        rank: Canonical pairs the Gaussian critics keep (:mod:`~mibounds.estimation.gaussian_fits`; None: all).
        moments: :func:`~mibounds.estimation.gaussian_fits.fold_moments` of the rows, if at hand.

    Returns:
        ``(model, name)``: the :class:`~mibounds.estimation.training.FoldCritic` in float32, and
        what scores the pairs (``"gaussian+mixture"``, ``"gaussian"``, a module's class name).

    Raises:
        ValueError: When the Gaussian critic's covariance would be singular (too few rows).
    """
    info, bound_params = bounds.parse(settings.bound, **(settings.bound_kwargs or {}))
    members = plan.num_folds
    bound_list = [bounds.make(info.name, **bound_params) for _ in range(members)]
    residual, name = _residual(settings, x.shape[1], y.shape[1], members)
    base = _gaussian_base(x, y, plan, rank, moments) if settings.gaussian else None
    if base is not None:
        name = "gaussian" if residual is None else f"gaussian+{name}"
    baselines = None
    if "log_baseline" in info.needs:
        baselines = [critics.MLPBaseline(y.shape[1]) for _ in range(members)]
    return FoldCritic(residual, base, bound_list, baselines).float(), name


def _gaussian_base(
    x: Tensor, y: Tensor, plan: FoldPlan, rank: int | None, moments: list[Moments] | None
) -> critics.GaussianCritic:
    rows_per_fit, columns = fit_rows(plan), x.shape[1] + y.shape[1]
    if rows_per_fit <= columns + 1:
        raise ValueError(
            f"the Gaussian critic fits the covariance of {x.shape[1]} + {y.shape[1]} columns from "
            f"{rows_per_fit} rows per fold, which is singular: pass more than "
            f"{(columns + 1) * plan.num_folds // (plan.num_folds - 1) + 1} rows, fewer columns "
            "(e.g. a PCA of each side), or gaussian=False"
        )
    moments = moments or fold_moments(x, y, plan)
    # Member m is fitted on every fold but its evaluation fold m.
    fits = [member_fit(moments, {m}, x.shape[1], rank) for m in range(plan.num_folds)]
    return critics.GaussianCritic.stack(fits).float()


def _residual(settings: EstimatorSettings, dim_x: int, dim_y: int, members: int) -> tuple[nn.Module | None, str]:
    """The learned critics of the members (zero at the start), and their name."""
    critic = settings.critic
    if critic is None:
        return None, "gaussian"
    if isinstance(critic, nn.Module):
        copies = [copy.deepcopy(critic) for _ in range(members)]
        for member in copies[1:]:  # fresh initial weights, so the members differ
            for module in member.modules():
                reset = getattr(module, "reset_parameters", None)
                if callable(reset):
                    reset()
        return MemberList(copies), type(critic).__name__
    kwargs = settings.critic_options()
    stacked = _STACKED.get(critic)
    last: Any = None
    if stacked is not None:
        residual: Any = getattr(critics, stacked)(members, dim_x, dim_y, **kwargs)
        last = residual.net[-1] if critic == "concat" else residual.h[-1]
    else:
        residual = MemberList([critics.make(critic, dim_x, dim_y, **kwargs) for _ in range(members)])
    with torch.no_grad():  # start at zero: the residual adds to the Gaussian critic
        for tensor in (last.weight, last.bias) if last is not None else residual.parameters():
            tensor.zero_()
    return residual, critic
