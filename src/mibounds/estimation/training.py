"""Training the critics of a cross-fitted estimate: folds, Adam, early stopping, best weights kept.

The rows are cut into F folds and F critics are trained side by side as one stack (one forward,
one backward, one optimizer step for all): critic m trains on F - 2 folds, is early-stopped on
fold m + 1 and is evaluated (elsewhere) on fold m, which it never saw (:class:`FoldPlan`). The
loop maximizes the members' bounds on random batches of K training pairs, checks the training
objective on the validation folds every ``eval_every`` steps, keeps the weights of the best
check, and stops after ``patience`` checks without improvement, at ``max_steps``, or when the
loss, the validation value, the weights or Adam's moments become NaN/inf (divergence). The
weights of the best check are restored in every case.

Example:
    >>> import numpy as np
    >>> from mibounds.estimation.training import fold_plan
    >>> plan = fold_plan(10, 5, np.random.default_rng(0))
    >>> [len(plan.evaluation(m)) for m in range(5)], len(plan.training(0))
    ([2, 2, 2, 2, 2], 6)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from mibounds._progress import progress_bar
from mibounds.bounds import Bound
from mibounds.critics import GaussianCritic, SeparableCritic
from mibounds.estimation.early_stopping import BestCheck, Patience
from mibounds.estimation.member_groups import member_groups, run_in_groups
from mibounds.validation.tensors import finite_scan_skipped

__all__ = [
    "AdamW",
    "FoldCritic",
    "FoldPlan",
    "MemberList",
    "CHECK_ROWS",
    "TrainingOutcome",
    "fold_plan",
    "nonfinite_rows",
    "train",
    "validation_batches",
]


class AdamW:
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019), in a few vectorized ops.

    For each parameter :math:`\theta` with gradient :math:`g` at step :math:`t`:

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
        \theta \leftarrow \theta(1 - \eta\lambda)
            - \eta\,\frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}

    The same update as ``torch.optim.AdamW``; written here because constructing the first
    ``torch.optim`` optimizer of a process imports ``torch._dynamo`` (2-4 s on a small CPU), which
    would dominate a command-line estimate.

    Args:
        params: Tensors to optimize (those without a gradient at a step are skipped).
        lr: Step size :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`.
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda`.
    """

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        """Drop every gradient."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        self.t += 1
        params = [self.params[i] for i in live]
        grads: list[Tensor] = [p.grad for p in params if p.grad is not None]
        m = [self.exp_avg[i] for i in live]
        v = [self.exp_avg_sq[i] for i in live]
        beta1, beta2 = self.betas
        if self.weight_decay:
            torch._foreach_mul_(params, 1.0 - self.lr * self.weight_decay)
        torch._foreach_lerp_(m, grads, 1.0 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - beta2)
        bias1 = 1.0 - beta1**self.t
        bias2 = 1.0 - beta2**self.t
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, math.sqrt(bias2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, m, denom, value=-self.lr / bias1)

    def is_finite(self) -> bool:
        """Whether every parameter and both moment estimates are free of NaN/inf (see
        :func:`nonfinite_rows`)."""
        return not bool(nonfinite_rows([*self.params, *self.exp_avg, *self.exp_avg_sq], 1)[0])


@torch.no_grad()
def nonfinite_rows(tensors: Iterable[Tensor], rows: int) -> Tensor:
    """Which of ``rows`` slices along the leading axis hold NaN/inf in any of ``tensors``, ``[rows]`` bool.

    With ``rows = 1`` every tensor counts as one slice (any shape); with ``rows = M`` every tensor
    has the member axis of a stack of M critics first, and slice m is member m.

    Why it matters: a gradient too large for the dtype (e.g. of e^f at scores of tens of nats)
    overflows Adam's second moment to inf; the update m / sqrt(v) of those weights is then 0 and
    they stop learning for good, while the loss stays finite. So the weights and the optimizer's
    moments are checked, not only the loss.
    """
    flags = [~torch.isfinite(t).reshape(rows, -1).all(1) for t in tensors]
    if not flags:
        return torch.zeros(rows, dtype=torch.bool)
    return torch.stack(flags).any(0).cpu()  # one device-to-host copy


@dataclass(frozen=True)
class FoldPlan:
    """Rows of a cross-fitted estimate: F folds, one critic per fold.

    Member m is evaluated on fold m (rows it never saw), early-stopped on fold ``m + 1``
    (mod F) and trained on the other ``F - 2`` folds, so every row is evaluated exactly once, by a
    critic that did not train on it.

    Attributes:
        folds: F disjoint arrays of row indices (shuffled), sizes differing by at most one.
    """

    folds: tuple[np.ndarray, ...]

    @property
    def num_folds(self) -> int:
        """F."""
        return len(self.folds)

    def evaluation(self, m: int) -> np.ndarray:
        """Rows member m is evaluated on (fold m)."""
        return self.folds[m]

    def validation(self, m: int) -> np.ndarray:
        """Rows that early-stop member m (fold m + 1)."""
        return self.folds[(m + 1) % self.num_folds]

    def training(self, m: int) -> np.ndarray:
        """Rows member m is trained on (every other fold)."""
        skip = {m, (m + 1) % self.num_folds}
        return np.concatenate([fold for j, fold in enumerate(self.folds) if j not in skip])


def fold_plan(n: int, num_folds: int, rng: np.random.Generator) -> FoldPlan:
    """Shuffle ``range(n)`` and cut it into ``num_folds`` folds (see :class:`FoldPlan`)."""
    return FoldPlan(tuple(np.array_split(rng.permutation(n), num_folds)))


class FoldCritic(nn.Module):
    """The F critics of a cross-fitted estimate in one module: a fitted Gaussian critic plus a
    learned residual critic per member, each with its own bound module.

    ``scores_m(x, y) = base_m(x, y) + residual_m(x, y)``. The base (a stacked
    :class:`~mibounds.critics.GaussianCritic`, fitted in closed form on member m's rows) already
    is the optimal critic of Gaussian-copula data at any MI; the residual starts at zero and
    learns what the Gaussian misses. Either part may be absent.

    Args:
        residual: Maps ``x [M, K, dx], y [M, K, dy]`` (one batch per member) to ``[M, K, K]``
            (a stacked critic or a :class:`MemberList`), or None.
        base: A stacked Gaussian critic with M members, or None.
        bounds: One bound module per member (MINE keeps a moving average per critic).
        baselines: One module ``y [K, dy] -> log a(y) [K]`` per member, for bounds that need one.
    """

    residual: nn.Module | None
    base: GaussianCritic | None
    baselines: nn.ModuleList | None

    def __init__(
        self,
        residual: nn.Module | None,
        base: GaussianCritic | None,
        bounds: Sequence[Bound],
        baselines: Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if residual is None and base is None:
            raise ValueError("a FoldCritic needs a residual critic, a Gaussian base, or both")
        self.residual = residual
        self.base = base
        self.bounds = nn.ModuleList(bounds)
        self.baselines = None if baselines is None else nn.ModuleList(baselines)
        self.num_members = len(bounds)

    @property
    def bound(self) -> Bound:
        """The first member's bound module (name, ceiling)."""
        return cast(Bound, self.bounds[0])

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """``x [M, K, dx]``, ``y [M, K, dy]`` (member m's batch at index m) -> ``scores [M, K, K]``."""
        scores = self.residual(x, y) if self.residual is not None else 0.0
        if self.base is not None:
            # The Gaussian's embeddings are computed per batch (its buffers carry no gradient):
            # caching them for all rows would hold M (d + 2) floats a row per side.
            scores = scores + self.base.embed_x(x) @ self.base.embed_y(y).transpose(-1, -2)
        return scores  # type: ignore[return-value]

    def member(self, m: int) -> _Member:
        """Member m as a plain critic ``x [K, dx], y [K, dy] -> [K, K]`` (a copy of a stacked critic's
        weights, for evaluation)."""
        residual = None
        if self.residual is not None:
            # otherwise a stacked critic (StackedSeparableCritic or StackedConcatCritic), which has member()
            stacked: Any = self.residual
            residual = self.residual.members[m] if isinstance(self.residual, MemberList) else stacked.member(m)
        return _Member(residual, None if self.base is None else self.base.member(m))

    def subset(self, members: Sequence[int]) -> FoldCritic:
        """Members ``members`` as a FoldCritic of their own, to train apart from the others.

        The bounds, the baselines and the critics of a :class:`MemberList` are the same modules
        (trained in place); a stacked residual's and the Gaussian's members are copies, whose
        trained weights :meth:`absorb` writes back.
        """
        residual: nn.Module | None = None
        if isinstance(self.residual, MemberList):
            residual = MemberList([self.residual.members[m] for m in members])
        elif self.residual is not None:
            stacked: Any = self.residual  # a stacked critic: member() and from_members()
            with torch.random.fork_rng(devices=[]):  # new modules initialize, then take the copies
                residual = type(stacked).from_members([stacked.member(m) for m in members])
        base = None if self.base is None else GaussianCritic.stack([self.base.member(m) for m in members])
        baselines = None if self.baselines is None else [self.baselines[m] for m in members]
        return FoldCritic(residual, base, [cast(Bound, self.bounds[m]) for m in members], baselines)

    def absorb(self, part: FoldCritic, members: Sequence[int]) -> None:
        """Write the weights of ``part`` (a :meth:`subset` of ``members``) back into this stack."""
        if self.residual is None or isinstance(self.residual, MemberList):
            return  # the same modules: nothing was copied
        index = torch.as_tensor(list(members), device=next(self.residual.parameters()).device)
        with torch.no_grad():
            for whole, piece in zip(
                self.residual.parameters(), cast(nn.Module, part.residual).parameters(), strict=True
            ):
                whole[index] = piece

    def member_values(self, x: Tensor, y: Tensor, objective: bool = False) -> Tensor:
        """Each member's bound on its own batch, ``[M]`` (with ``objective``, the value its gradient
        maximizes: the f-GAN JS objective for ``js`` and ``smile``, whose gradient is the same
        and which costs less than the reported value)."""
        scores = self(x, y)
        fn = self.bound.info.objective if objective else None
        if fn is not None and self.baselines is None:  # an objective scores a stack in one call
            return fn(scores)
        values = []
        for m in range(self.num_members):
            baseline = () if self.baselines is None else (self.baselines[m](y[m]),)
            values.append(fn(scores[m]) if fn is not None and not baseline else self.bounds[m](scores[m], *baseline))
        return torch.stack(values)


class _Member(nn.Module):
    """One member of a :class:`FoldCritic`: the sum of its residual and Gaussian scores."""

    residual: nn.Module | None
    base: GaussianCritic | None

    def __init__(self, residual: nn.Module | None, base: GaussianCritic | None) -> None:
        super().__init__()
        self.residual, self.base = residual, base

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        scores = self.residual(x, y) if self.residual is not None else 0.0
        return scores + self.base(x, y) if self.base is not None else scores  # type: ignore[return-value]

    def paired(self, x: Tensor, y: Tensor) -> Tensor | None:
        """The positive pairs' scores ``[K]`` (the diagonal of :meth:`forward`) at O(K), when every
        part has a ``paired`` method (the Gaussian, separable and mixture critics); else None."""
        parts = [part for part in (self.residual, self.base) if part is not None]
        if not all(callable(getattr(part, "paired", None)) for part in parts):
            return None
        return sum(part.paired(x, y) for part in parts)  # type: ignore[return-value, operator]

    def embeddings(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor] | None:
        """``(a [K, D], b [K, D])`` with ``forward(x, y) == a @ b.T``, when both parts are separable
        (the Gaussian critic and :class:`~mibounds.critics.SeparableCritic` are); else None.

        With them any pairing ``f(x_i, y_j)`` costs O(D) instead of a network evaluation.
        """
        parts = []
        if self.residual is not None:
            if not isinstance(self.residual, SeparableCritic):
                return None
            parts.append((self.residual.g(x), self.residual.h(y)))
        if self.base is not None:
            parts.append((self.base.embed_x(x), self.base.embed_y(y)))
        return torch.cat([a for a, _ in parts], dim=-1), torch.cat([b for _, b in parts], dim=-1)


class MemberList(nn.Module):
    """M critics of any kind as one stack: ``x [M, K, dx], y [M, K, dy] -> scores [M, K, K]``.

    The stacked critics (:class:`mibounds.critics.StackedSeparableCritic`) do the same in one pass;
    this is the fallback for critics without a stacked form (e.g. a user's module).
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.stack([critic(x[m], y[m]) for m, critic in enumerate(self.members)])


@dataclass
class TrainingOutcome:
    """What happened during :func:`train`.

    Attributes:
        steps: Optimizer steps taken.
        best_step: Step of the restored weights (0: the initial weights).
        best_value: Validation objective at ``best_step``, mean over members.
        stopped: ``"early_stopping"``, ``"max_steps"``, ``"diverged"``, or ``"no_parameters"`` (nothing
            to train: the Gaussian critic alone).
        history: ``{"step", "train", "validation"}`` lists, one entry per check (step 0 is the
            initial critic).
        patience: Checks without improvement that end (or would have ended) training after its
            best check: ``patience``, or fewer with ``min_patience``.
    """

    steps: int
    best_step: int
    best_value: float
    stopped: str
    history: dict[str, list[float]] = field(default_factory=dict)
    patience: int | None = None

    @property
    def still_improving(self) -> bool:
        """Training stopped at ``max_steps`` with its best check among the last two."""
        checks = self.history.get("step", [])
        return self.stopped == "max_steps" and self.best_step in checks[-2:] and self.best_step > 0


#: Most rows of a validation fold that a check scores: enough to rank two checks (thousands of
#: rows), and a check's cost stays the same from 80,000 rows to a million.
CHECK_ROWS = 16 * 1024


def validation_batches(plan: FoldPlan, batch_size: int) -> Tensor:
    """``[M, B, K]`` row indices: each member's validation fold (its first :data:`CHECK_ROWS` rows, a
    random subset) cut into B disjoint batches of K."""
    num = min(max(CHECK_ROWS, batch_size), *(len(plan.validation(m)) for m in range(plan.num_folds))) // batch_size
    rows = [plan.validation(m)[: num * batch_size] for m in range(plan.num_folds)]
    return torch.as_tensor(np.stack(rows)).view(plan.num_folds, num, batch_size)


def train(
    model: FoldCritic,
    x: Tensor,
    y: Tensor,
    plan: FoldPlan,
    *,
    batch_size: int,
    max_steps: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    eval_every: int,
    patience: int,
    min_patience: int | None = None,
    generator: torch.Generator,
    progress: bool = False,
    groups: int = 1,
) -> TrainingOutcome:
    """Train every member on its training folds (maximize its bound) with early stopping.

    Each step draws one batch of K rows per member from its own training rows (with
    replacement) and takes one Adam step on the mean of the members' bounds. Every
    ``eval_every`` steps the members' training objective (see :meth:`FoldCritic.member_values`)
    on their validation folds is averaged; the weights of the best check (the initial critic
    counts as step 0) are kept, and training stops after ``patience`` checks without a better one.

    With ``min_patience``, the wait shrinks once the critic has learned: once a check has beaten
    the initial critic by more than :data:`~mibounds.estimation.early_stopping.LEARNED_Z`
    standard errors of their paired difference (the same validation batches score both;
    :func:`~mibounds.estimation.early_stopping.beats`), a best check at step b stops training after
    ``max(min_patience, b / eval_every)`` checks without a better one (``patience`` at most), so
    a run waits as long again as it took to find its best (the "patience increase" of 2 of
    Bengio 2012, "Practical recommendations for gradient-based training of deep architectures").
    The full ``patience`` covers the start, where a residual that starts at zero can go many
    checks without a real gain before it learns.

    With ``groups`` > 1 the members are trained in that many groups at once, one thread each
    (:mod:`~mibounds.estimation.member_groups`), joined at every check; the weights are those of one
    group to float32 rounding.

    Args:
        model: The :class:`FoldCritic`.
        x: All rows of x ``[n, dx]``, on the model's device.
        y: All rows of y ``[n, dy]``.
        plan: Which rows each member trains and early-stops on.
        batch_size: K.
        max_steps: Most optimizer steps.
        learning_rate: Adam's step size.
        weight_decay: Decoupled weight decay (AdamW); 0 is plain Adam.
        eval_every: Steps between validation checks.
        patience: Checks without a better validation objective before stopping.
        min_patience: Fewest such checks once the critic has learned (None: always ``patience``).
        generator: CPU generator for the batches.
        progress: Show a tqdm bar (silently none without tqdm).
        groups: Groups of members trained at once, on a thread each.

    Returns:
        The :class:`TrainingOutcome`; ``model`` holds the best weights, in eval mode.
    """
    members = plan.num_folds
    training_rows = [torch.as_tensor(plan.training(m)) for m in range(members)]
    validation = validation_batches(plan, batch_size).to(x.device)
    split = member_groups(members, groups)
    parts = [
        _Group(model if len(split) == 1 else model.subset(g), g, validation, learning_rate, weight_decay) for g in split
    ]

    def check() -> Tensor:
        return torch.cat(run_in_groups(lambda part: part.check(x, y), parts), dim=1)  # [B, M]

    best = BestCheck([part.model for part in parts], check(), Patience(patience, min_patience, eval_every))
    trainable = any(part.optimizer.params for part in parts)
    step, stopped = 0, "max_steps" if trainable else "no_parameters"
    bar = progress_bar(max_steps, progress, desc="training critics", unit="step", leave=False, dynamic_ncols=True)
    try:
        # The loop reads its values for NaN/inf at every check: no host read per bound call.
        with finite_scan_skipped():
            while step < max_steps and trainable:
                length = min(eval_every - step % eval_every, max_steps - step)  # steps to the next check
                # Drawn step by step, member by member, whatever the groups: the same batches.
                picks = torch.stack(
                    [
                        torch.stack(
                            [
                                rows[torch.randint(len(rows), (batch_size,), generator=generator)]
                                for rows in training_rows
                            ]
                        )
                        for _ in range(length)
                    ]
                ).to(x.device)
                sums = run_in_groups(functools.partial(_Group.steps, x=x, y=y, picks=picks, total=members), parts)
                step += length
                if bar is not None:
                    bar.update(length)
                train_mean = float(torch.stack(sums).sum()) / (members * length)  # one host read per check
                finite = all(part.optimizer.is_finite() for part in parts)
                verdict = best.record(step, train_mean, check(), finite)
                if bar is not None:
                    bar.set_postfix(
                        validation=f"{best.history['validation'][-1]:.4f}", best=f"{best.value:.4f}", refresh=False
                    )
                if verdict is not None:
                    stopped = verdict
                    break
    finally:
        if bar is not None:
            bar.close()
    for part, state in zip(parts, best.state, strict=True):
        part.model.load_state_dict(state)
        if part.model is not model:
            model.absorb(part.model, part.members)
    model.eval()
    return TrainingOutcome(step, best.step, best.value, stopped, best.history, best.patience)


class _Group:
    """Some members of a :func:`train` run: their critic, optimizer and validation batches."""

    def __init__(
        self, model: FoldCritic, members: list[int], validation: Tensor, learning_rate: float, weight_decay: float
    ) -> None:
        self.model, self.members = model, members
        self.validation = validation[members]  # [g, B, K]
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = AdamW(params, lr=learning_rate, weight_decay=weight_decay)

    def steps(self, x: Tensor, y: Tensor, picks: Tensor, total: int) -> Tensor:
        """One optimizer step per batch of ``picks`` (``[steps, F, K]``, this group's members
        taken); returns the sum of the members' objectives over the steps (a 0-d tensor)."""
        self.model.train()
        running = torch.zeros((), device=x.device)
        with torch.enable_grad():  # also under a caller's torch.no_grad() (grad mode is per thread)
            for idx in picks[:, self.members].unbind(0):
                values = self.model.member_values(x[idx], y[idx], objective=True)
                # Over all F members: each member's gradient is that of the mean of the F objectives.
                loss = -values.sum() / total
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                running += values.detach().sum()  # read once per check: no GPU sync per step
        return running

    def check(self, x: Tensor, y: Tensor) -> Tensor:
        """The members' objectives on their validation batches, ``[B, g]``."""
        self.model.eval()
        with torch.no_grad():
            return torch.stack(
                [self.model.member_values(x[rows], y[rows], objective=True) for rows in self.validation.unbind(1)]
            )
