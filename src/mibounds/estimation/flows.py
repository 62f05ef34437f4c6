r"""Gaussianizing flows: a Gaussian model of ``(f(x), g(y))`` after learned invertible per-side maps.

A prototype of the model of Butakov et al. (2024), measured beside the estimator's Gaussian (CCA)
critic and not wired into :func:`mibounds.estimate`. Each side gets a normalizing flow, ``u = f(x)``
and ``v = g(y)``, and ``(u, v)`` is modelled as one Gaussian :math:`\mathcal N(\mu, \Sigma)`; the
density of the rows is then

.. math::
    \log \hat p(x, y) = \log \mathcal N\big((f(x), g(y)); \mu, \Sigma\big)
        + \log |\det J_f(x)| + \log |\det J_g(y)|,

fitted by maximum likelihood on the training rows (flows and Gaussian together) and early-stopped
on the validation rows' likelihood. MI is unchanged by invertible maps of either side, and the
Jacobians cancel in the density ratio, so the model's log ratio is the Gaussian critic of
``(u, v)``:

.. math::
    \log \hat r(x, y) = \log \mathcal N(u, v; \Sigma) - \log \mathcal N(u; \Sigma_{uu})
        - \log \mathcal N(v; \Sigma_{vv}),

the exact log density ratio whenever some per-side maps make the pair jointly Gaussian (any
Gaussian copula after a per-side mixing: ``rotate(cube(...))``). Where no such maps exist (a
mixture whose correlations flip sign, a shared scale as in the multivariate Student-t) it is
the Gaussian critic of the best maps the flows find, and its held-out mean is then typically
below I (for Gaussian marginals of ``u`` and ``v`` the Gaussian MI of their covariance is a lower
bound on I).

Both sides are first mapped to per-column normal scores
(:class:`~mibounds.estimation.scaling.QuantileNormalizer`, as in the estimator), and the flows
start at the identity, so the starting point is the estimator's Gaussian critic. The rows are
cross-fitted as in the estimator (:func:`~mibounds.estimation.training.fold_plan`): member m
trains on ``F - 2`` folds, early-stops on fold m + 1 and scores fold m. After training, the
Gaussian is refitted in closed form on the member's training and validation rows (its maximum
likelihood given the flows), as the estimator fits its Gaussian critic.

The flows are :class:`zuko.flows.NSF` (masked autoregressive rational-quadratic splines on
``[-5, 5]``, identity outside; normal scores of up to 10^6 rows stay inside 4.9), with the last
layer of every conditioner zeroed: every spline then has equal bins and unit knot slopes, which is
the identity. ``zuko`` is an optional dependency (``pip install zuko``), imported when a flow is
built. :class:`FlowGaussianCritic` gives the fitted members the interface of a stacked Gaussian
critic, so they can stand as the base of a :class:`~mibounds.estimation.training.FoldCritic`.

Measured (docs/flows_prototype.md): no change on Gaussian data (the flows keep the identity); a
critic close to normalized wherever the flows move, with a held-out mean below I; at n = 10,000 the
likelihood is spent on each side's own structure before the two sides are aligned, so on the
rotated tasks the estimate does not come closer to I.

Reference:
    Butakov, Tolmachev, Malanchuk, Neopryatnaya, Frolov (2024), "Mutual information estimation
    via normalizing flows", NeurIPS (arXiv:2403.02187). The flows: Durkan et al. (2019), "Neural
    spline flows"; Papamakarios et al. (2017), "Masked autoregressive flow for density estimation".

Example:
    >>> import numpy as np
    >>> from mibounds.estimation.flows import FlowSettings, estimate_with_flows
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(1000, 2))
    >>> fitted = estimate_with_flows(x, x + rng.normal(size=(1000, 2)), FlowSettings(max_steps=20, eval_every=10))
    >>> fitted.log_ratio.shape, bool(abs(fitted.estimate - np.log(2)) < 0.2)  # I = 2 x log(2) / 2
    ((1000,), True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from mibounds.critics import GaussianCritic
from mibounds.estimation._flow_maps import build_identity_flow
from mibounds.estimation.fold_critics import fit_rows
from mibounds.estimation.heldout import gaussian_fit_penalty
from mibounds.estimation.scaling import QuantileNormalizer
from mibounds.estimation.training import AdamW, FoldPlan, fold_plan

__all__ = [
    "FlowEstimate",
    "FlowGaussianCritic",
    "FlowSettings",
    "GaussianizedPair",
    "estimate_with_flows",
    "fit_flows",
    "identity_flow",
]

_LOG_2PI = math.log(2 * math.pi)
# Rows per block when the pair scores of a held-out fold are formed (the normalization check).
_PAIR_BLOCK = 1024


@dataclass(frozen=True)
class FlowSettings:
    """The flows' size and their training (one setting for every data set).

    Attributes:
        architecture: ``"nsf"`` (zuko's autoregressive neural spline flow) or ``"spline-linear"``
            (element-wise splines between learned linear maps; measured to stay at the identity).
        transforms: Autoregressive spline transforms per side (for ``"spline-linear"``: linear maps) (their orders alternate, so with two
            or more every output depends on every input).
        hidden_features: Hidden layers of each transform's masked conditioner (MADE).
        bins: Spline bins per coordinate.
        batch_size: Training rows per step.
        learning_rate: Adam's step size (flows and Gaussian alike).
        max_steps: Most steps per member.
        eval_every: Steps between checks of the validation likelihood.
        patience: Checks without a better validation likelihood before stopping.
    """

    architecture: str = "nsf"
    transforms: int = 2
    hidden_features: tuple[int, ...] = (64, 64)
    bins: int = 8
    batch_size: int = 256
    learning_rate: float = 1e-3
    max_steps: int = 2000
    eval_every: int = 50
    patience: int = 3


def identity_flow(features: int, settings: FlowSettings) -> nn.Module:
    """The lazy transform ``x -> u`` of one side, at the identity: ``flow().call_and_ladj(x)``.

    ``"nsf"``: :class:`zuko.flows.MAF` with rational-quadratic splines (zuko's NSF) whose
    conditioners' last layers are zeroed (for one feature zuko builds an unconditioned element-wise
    spline, whose parameters are zeroed). ``"spline-linear"``: an element-wise spline, then
    ``transforms`` times a linear map and an element-wise spline, every part zero-initialized. Equal
    bin widths and heights and unit knot derivatives make a spline the identity map.
    """
    return build_identity_flow(
        features, settings.architecture, settings.transforms, settings.hidden_features, settings.bins
    )


class GaussianizedPair(nn.Module):
    """Two flows and a Gaussian on their outputs: the density model of one member.

    The Gaussian is :math:`\\mathcal N(\\mu, L L^\\top)` with ``L`` lower triangular with a positive
    diagonal (its log stored), so every step keeps it a covariance.
    """

    def __init__(self, dim_x: int, dim_y: int, settings: FlowSettings) -> None:
        super().__init__()
        self.dim_x = dim_x
        self.flow_x = identity_flow(dim_x, settings)
        self.flow_y = identity_flow(dim_y, settings)
        dim = dim_x + dim_y
        self.mean = nn.Parameter(torch.zeros(dim))
        self.lower = nn.Parameter(torch.zeros(dim, dim))  # strictly lower part used
        self.log_diagonal = nn.Parameter(torch.zeros(dim))

    @torch.no_grad()
    def set_gaussian(self, z: Tensor) -> None:
        """Set the Gaussian to the mean and covariance of the rows ``z [n, dx + dy]`` (its maximum likelihood)."""
        mean, cov = _moments(z.double())
        chol = torch.linalg.cholesky(cov)
        self.mean.copy_(mean.to(self.mean))
        self.lower.copy_(torch.tril(chol, -1).to(self.lower))
        self.log_diagonal.copy_(chol.diagonal().log().to(self.log_diagonal))

    def scale_tril(self) -> Tensor:
        """``L``, with ``Sigma = L L^T``."""
        return torch.tril(self.lower, -1) + torch.diag_embed(self.log_diagonal.exp())

    def map_x(self, x: Tensor) -> Tensor:
        """``u = f(x)``."""
        return self.flow_x()(x)

    def map_y(self, y: Tensor) -> Tensor:
        """``v = g(y)``."""
        return self.flow_y()(y)

    def transform(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """``z = (f(x), g(y)) [K, dx + dy]`` and ``log|det J_f(x)| + log|det J_g(y)| [K]``."""
        u, ladj_x = self.flow_x().call_and_ladj(x)
        v, ladj_y = self.flow_y().call_and_ladj(y)
        return torch.cat([u, v], dim=-1), ladj_x + ladj_y

    def log_likelihood(self, x: Tensor, y: Tensor) -> Tensor:
        """``log p(x, y) [K]`` of the model (nats per row)."""
        z, ladj = self.transform(x, y)
        tril = self.scale_tril()
        white = torch.linalg.solve_triangular(tril, (z - self.mean).unsqueeze(-1), upper=False).squeeze(-1)
        log_normal = -0.5 * white.square().sum(-1) - self.log_diagonal.sum() - 0.5 * z.shape[-1] * _LOG_2PI
        return log_normal + ladj


@dataclass(frozen=True)
class FlowEstimate:
    """What :func:`estimate_with_flows` measures, with the identity flows (the CCA critic) beside it.

    Attributes:
        estimate: Mean held-out log ratio of the flow model, plus ``correction`` (nats).
        log_ratio: ``[n]`` held-out log ratio of every row (its fold's member), without the correction.
        fold: ``[n]`` the fold of each entry of ``log_ratio``.
        log_normalizer: :math:`\\log` of the mean of :math:`\\hat r` over the held-out independent
            pairs of each fold, pooled over the folds (0 for a density ratio), with the correction.
        gaussian_mi: Mean over members of the closed-form MI of the refitted Gaussian (on its own rows).
        heldout_log_likelihood: Mean held-out ``log p(x, y)`` of the flow model (normal-score space).
        heldout_conditional: Mean held-out ``(log p(y | x) + log p(x | y)) / 2`` of the flow model.
        baseline_estimate, baseline_log_normalizer, baseline_log_likelihood, baseline_conditional:
            The same for the flows at the identity: the estimator's Gaussian critic.
        correction: The Gaussian's first-order fitting penalty added (as in the estimator).
        steps: Steps taken per member.
        best_steps: Step of the kept weights per member (0: the identity).
        seconds: Wall time of the whole estimate.
    """

    estimate: float
    log_ratio: np.ndarray
    fold: np.ndarray
    log_normalizer: float
    gaussian_mi: float
    heldout_log_likelihood: float
    heldout_conditional: float
    baseline_estimate: float
    baseline_log_normalizer: float
    baseline_log_likelihood: float
    baseline_conditional: float
    correction: float
    steps: list[int]
    best_steps: list[int]
    seconds: float


def estimate_with_flows(
    x: Any,
    y: Any,
    settings: FlowSettings | None = None,
    *,
    num_folds: int = 5,
    seed: int = 0,
) -> FlowEstimate:
    """Cross-fitted held-out estimate of I(X; Y) with Gaussianizing flows (see the module docstring).

    Args:
        x: ``[n, dx]`` rows (array-like; float64 is converted to float32 for the flows).
        y: ``[n, dy]`` rows, row i paired with row i of x.
        settings: Flow size and training (the defaults of :class:`FlowSettings` when None).
        num_folds: F (at least 3: one fold to evaluate, one to early-stop, the rest to train).
        seed: Seeds the folds (as the estimator's ``random_state``), the batches and the weights.

    Returns:
        The :class:`FlowEstimate`.
    """
    start = time.perf_counter()
    settings = settings or FlowSettings()
    xa, ya = _as_rows(x), _as_rows(y)
    if len(xa) != len(ya):
        raise ValueError(f"x and y need the same number of rows, got {len(xa)} and {len(ya)}")
    if num_folds < 3:
        raise ValueError(f"num_folds must be at least 3 (train, early-stop, evaluate), got {num_folds}")
    xs = torch.as_tensor(QuantileNormalizer.fit(xa)(xa), dtype=torch.float32)
    ys = torch.as_tensor(QuantileNormalizer.fit(ya)(ya), dtype=torch.float32)
    plan = fold_plan(len(xa), num_folds, np.random.default_rng(seed))
    correction = gaussian_fit_penalty(xs.shape[1], ys.shape[1], fit_rows(plan))
    identity = [GaussianizedPair(xs.shape[1], ys.shape[1], settings) for _ in range(num_folds)]
    members, steps, best_steps = fit_flows(xs, ys, plan, settings, seed)
    base, flow = _Scores(), _Scores()
    with torch.no_grad():
        for scores, models in ((base, identity), (flow, members)):
            critic = FlowGaussianCritic.fit(models, xs, ys, plan)
            for m in range(num_folds):
                scores.add(m, *_member_scores(models[m], critic.member(m), xs, ys, plan.evaluation(m)))
    return FlowEstimate(
        estimate=flow.estimate() + correction,
        log_ratio=np.concatenate(flow.ratio),
        fold=np.concatenate(flow.fold),
        log_normalizer=flow.log_normalizer() + correction,
        gaussian_mi=float(np.mean(flow.mi)),
        heldout_log_likelihood=float(np.concatenate(flow.joint).mean()),
        heldout_conditional=float(np.concatenate(flow.conditional).mean()),
        baseline_estimate=base.estimate() + correction,
        baseline_log_normalizer=base.log_normalizer() + correction,
        baseline_log_likelihood=float(np.concatenate(base.joint).mean()),
        baseline_conditional=float(np.concatenate(base.conditional).mean()),
        correction=correction,
        steps=steps,
        best_steps=best_steps,
        seconds=time.perf_counter() - start,
    )


def fit_flows(
    x: Tensor, y: Tensor, plan: FoldPlan, settings: FlowSettings, seed: int
) -> tuple[list[GaussianizedPair], list[int], list[int]]:
    """Train one :class:`GaussianizedPair` per member of ``plan`` (seeded; the global RNG is left as it was).

    Args:
        x: Normal scores of x ``[n, dx]`` (float32).
        y: Normal scores of y ``[n, dy]``.
        plan: Member m trains on ``plan.training(m)`` and early-stops on ``plan.validation(m)``.
        settings: The flows and their training.
        seed: Seeds the initial weights and the batches.

    Returns:
        ``(members, steps taken, step of the kept weights)``, one entry per member.
    """
    members, steps, best_steps = [], [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        for m in range(plan.num_folds):
            model = GaussianizedPair(x.shape[1], y.shape[1], settings)
            taken, best = _train(model, x, y, plan, m, settings, generator)
            members.append(model.requires_grad_(False).eval())
            steps.append(taken)
            best_steps.append(best)
    return members, steps, best_steps


class FlowGaussianCritic(nn.Module):
    """The flow model's log ratio as a critic: the Gaussian critic of ``(f_m(x), g_m(y))`` per member.

    A stack of M members like a stacked :class:`~mibounds.critics.GaussianCritic` (``embed_x``,
    ``embed_y``, :meth:`member`, ``mutual_information``), so it can stand where the estimator's
    Gaussian base stands in a :class:`~mibounds.estimation.training.FoldCritic`; the flows are frozen.
    Build it with :meth:`fit`.
    """

    mean: Tensor
    covariance: Tensor

    def __init__(
        self, members: list[GaussianizedPair], gaussian: GaussianCritic, mean: Tensor, covariance: Tensor
    ) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.gaussian = gaussian
        self.register_buffer("mean", mean)  # [M, dx + dy] of (u, v) on the rows each Gaussian was fitted to
        self.register_buffer("covariance", covariance)  # [M, dx + dy, dx + dy]

    @classmethod
    @torch.no_grad()
    def fit(cls, members: list[GaussianizedPair], x: Tensor, y: Tensor, plan: FoldPlan) -> FlowGaussianCritic:
        """Fit member m's Gaussian critic on the flows' outputs of its training and validation rows."""
        fits, moments = [], []
        for m, model in enumerate(members):
            rows = torch.as_tensor(np.concatenate([plan.training(m), plan.validation(m)]), device=x.device)
            z = model.transform(x[rows], y[rows])[0].double()
            fits.append(GaussianCritic.fit(z[:, : model.dim_x], z[:, model.dim_x :]))
            moments.append(_moments(z))
        means, covariances = zip(*moments, strict=True)
        return cls(members, GaussianCritic.stack(fits), torch.stack(means), torch.stack(covariances))

    @property
    def mutual_information(self) -> float | list[float]:
        """The MI of each member's fitted Gaussian (nats)."""
        return self.gaussian.mutual_information

    def _sides(self, values: Tensor, side: str) -> Tensor:
        shared = values.dim() == 2  # [K, d]: the same rows for every member
        outputs = []
        for m, model in enumerate(cast(list[GaussianizedPair], list(self.members))):
            rows = values if shared else values[m]
            outputs.append(model.map_x(rows) if side == "x" else model.map_y(rows))
        return torch.stack(outputs).to(values.dtype)

    def embed_x(self, x: Tensor) -> Tensor:
        """``[(M,) K, dx] -> [M, K, dy + 2]``: the Gaussian critics' embeddings of ``f_m(x)``."""
        return self.gaussian.embed_x(self._sides(x, "x"))

    def embed_y(self, y: Tensor) -> Tensor:
        """``[(M,) K, dy] -> [M, K, dy + 2]``: the Gaussian critics' embeddings of ``g_m(y)``."""
        return self.gaussian.embed_y(self._sides(y, "y"))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """``[M, K, K]`` scores of every member."""
        return self.embed_x(x) @ self.embed_y(y).transpose(-1, -2)

    def member(self, m: int) -> _FlowMember:
        """Member m as a critic ``x [K, dx], y [K, dy] -> [K, K]``."""
        model = cast(GaussianizedPair, self.members[m])
        return _FlowMember(model, self.gaussian.member(m), self.mean[m], self.covariance[m])


class _FlowMember(nn.Module):
    """One member of a :class:`FlowGaussianCritic`."""

    def __init__(self, model: GaussianizedPair, gaussian: GaussianCritic, mean: Tensor, covariance: Tensor) -> None:
        super().__init__()
        self.model, self.gaussian = model, gaussian
        self.mean, self.covariance = mean, covariance

    def embed_x(self, x: Tensor) -> Tensor:
        return self.gaussian.embed_x(self.model.map_x(x).to(x.dtype))

    def embed_y(self, y: Tensor) -> Tensor:
        return self.gaussian.embed_y(self.model.map_y(y).to(y.dtype))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.embed_x(x) @ self.embed_y(y).transpose(-1, -2)


class _Scores:
    """Per-fold held-out values of one model (the flows, or the identity)."""

    def __init__(self) -> None:
        self.ratio: list[np.ndarray] = []
        self.fold: list[np.ndarray] = []
        self.joint: list[np.ndarray] = []
        self.conditional: list[np.ndarray] = []
        self.log_mean_off: list[float] = []
        self.mi: list[float] = []

    def add(
        self, m: int, ratio: np.ndarray, joint: np.ndarray, conditional: np.ndarray, log_mean_off: float, mi: float
    ) -> None:
        self.ratio.append(ratio)
        self.fold.append(np.full(len(ratio), m))
        self.joint.append(joint)
        self.conditional.append(conditional)
        self.log_mean_off.append(log_mean_off)
        self.mi.append(mi)

    def estimate(self) -> float:
        return float(np.concatenate(self.ratio).mean())

    def log_normalizer(self) -> float:
        """The folds' mean of :math:`\\hat r` over their independent pairs, in log (as the estimator pools it)."""
        return float(np.logaddexp.reduce(self.log_mean_off) - math.log(len(self.log_mean_off)))


def _train(
    model: GaussianizedPair,
    x: Tensor,
    y: Tensor,
    plan: FoldPlan,
    m: int,
    settings: FlowSettings,
    generator: torch.Generator,
) -> tuple[int, int]:
    """Maximum likelihood on member m's training rows, early-stopped on its validation rows.

    Returns ``(steps taken, step of the kept weights)``; ``model`` holds the kept weights.
    """
    train_rows = torch.as_tensor(plan.training(m))
    valid_rows = torch.as_tensor(plan.validation(m))
    with torch.no_grad():
        model.set_gaussian(model.transform(x[train_rows], y[train_rows])[0])

    def check() -> float:
        with torch.no_grad():
            return float(model.log_likelihood(x[valid_rows], y[valid_rows]).mean())

    optimizer = AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
    best_value, best_step, stale = check(), 0, 0
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    step = 0
    while step < settings.max_steps:
        rows = train_rows[torch.randint(len(train_rows), (settings.batch_size,), generator=generator)]
        loss = -model.log_likelihood(x[rows], y[rows]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % settings.eval_every and step < settings.max_steps:
            continue
        value = check()
        if not math.isfinite(value):
            break
        if value > best_value:
            best_value, best_step, stale = value, step, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best_state)
    return step, best_step


def _member_scores(
    model: GaussianizedPair, critic: _FlowMember, x: Tensor, y: Tensor, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Member m's held-out values on ``rows`` (its evaluation fold).

    Returns the log ratios, the joint log-likelihoods and the mean conditional log-likelihoods
    ``[k]`` each (under the critic's refitted Gaussian), the log of the mean ratio over the
    independent pairs of ``rows``, and the Gaussian's MI.
    """
    index = torch.as_tensor(rows)
    xe, ye = x[index], y[index]
    z, ladj = model.transform(xe, ye)
    z, ladj, dim_x = z.double(), ladj.double(), model.dim_x
    gaussian = critic.gaussian
    embed_x = gaussian.embed_x(z[:, :dim_x])
    embed_y = gaussian.embed_y(z[:, dim_x:])
    ratio = (embed_x * embed_y).sum(-1)  # log N(u, v) - log N(u) - log N(v)
    mean, cov = critic.mean, critic.covariance
    log_x = _log_normal(z[:, :dim_x], mean[:dim_x], cov[:dim_x, :dim_x])
    log_y = _log_normal(z[:, dim_x:], mean[dim_x:], cov[dim_x:, dim_x:])
    joint = _log_normal(z, mean, cov) + ladj
    conditional = joint - 0.5 * (log_x + log_y) - 0.5 * ladj  # (log p(y | x) + log p(x | y)) / 2
    sums, count = [], 0
    for part in torch.tensor_split(torch.arange(len(rows)), math.ceil(len(rows) / _PAIR_BLOCK)):
        scores = embed_x[part] @ embed_y.T
        scores[torch.arange(len(part)), part] = -math.inf  # the positive pairs
        sums.append(torch.logsumexp(scores.flatten(), 0))
        count += len(part) * (len(rows) - 1)
    log_mean_off = float(torch.logsumexp(torch.stack(sums), 0)) - math.log(count)
    return ratio.numpy(), joint.numpy(), conditional.numpy(), log_mean_off, float(gaussian.mi)


def _moments(z: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (maximum-likelihood) covariance of the rows of ``z``."""
    mean = z.mean(0)
    centred = z - mean
    return mean, centred.T @ centred / len(z)


def _log_normal(z: Tensor, mean: Tensor, cov: Tensor) -> Tensor:
    """``log N(z_i; mean, cov)`` for every row."""
    chol = torch.linalg.cholesky(cov)
    white = torch.linalg.solve_triangular(chol, (z - mean).T, upper=False)
    return -0.5 * white.square().sum(0) - chol.diagonal().log().sum() - 0.5 * len(mean) * _LOG_2PI


def _as_rows(values: Any) -> np.ndarray:
    array = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64)
    return array.reshape(-1, 1) if array.ndim == 1 else array
