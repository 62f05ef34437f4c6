"""Estimate mutual information from paired samples: :func:`estimate` and :class:`MIEstimator`.

Procedure (one call):

1. Check and convert the inputs (NumPy, torch, pandas; a 1-d array is one feature).
2. Map every column to standard-normal scores through its empirical CDF (``standardize=True``).
   MI is unchanged by increasing per-column maps; the critic then sees Gaussian-shaped inputs.
   The map uses each column on its own, never the pairing of x with y.
3. Shuffle the rows and cut them into ``num_folds`` folds (:class:`~mibounds.estimation.training.FoldPlan`).
   Critic m is trained on ``num_folds - 2`` folds, early-stopped on fold m + 1 and evaluated on
   fold m, so every row is evaluated once, by a critic that never saw it (cross-fitting).
4. Critic m is a :class:`~mibounds.critics.GaussianCritic` fitted in closed form on its training
   and validation rows (the exact log density ratio when the dependence is a Gaussian copula,
   at any MI) plus a learned residual critic that starts at zero (``gaussian=False``: the
   learned critic alone). All members train side by side as one stack, on the bound
   (``js`` by default), with Adam and early stopping on the training objective of their
   validation folds; the patience is longer when the normal scores are not jointly Gaussian
   (Mardia's kurtosis test), since the residual then has something to learn.
5. Report, from the held-out rows only (:mod:`mibounds.estimation.heldout`):

   - the **estimate**: for bounds whose optimal critic is the log density ratio log r (plus a
     known constant: ``js``, ``smile``, ``nwj``), the mean of :math:`\\log \\hat r(x_i, y_i)`
     over all n rows, the plug-in estimate of :math:`I = \\mathbb E \\log r`; for the other
     bounds (DV, InfoNCE, MINE, TUBA, I_α), the bound's mean value over disjoint held-out
     batches of K pairs. The interval uses the spread across the folds' critics
     (:func:`~mibounds.estimation.uncertainty.crossfit_interval`), and its upper end allows for
     half the critics' generalization gap;
   - the **lower bound**: InfoNCE of the same critics over held-out blocks of up to 1,024 rows,
     a lower bound on I in expectation for any critic, with its one-sided confidence limit.
     It can never exceed log B (B the block size): no distribution-free bound certifies much more
     than log n nats from n rows (McAllester & Stratos 2020). Above that the estimate rests on
     the critic's model of log r, and the result says so.

Measured accuracy, coverage and time: ``mibounds bench accuracy`` and docs/accuracy.md.

References:
    Cross-fitting: Chernozhukov et al. (2018), "Double/debiased machine learning", Econometrics
    Journal 21(1). The plug-in log-ratio estimate from a classifier: Liao et al. (2020), "DEMI:
    Discriminative estimator of mutual information" (arXiv:2010.01766). The limit of lower
    bounds: McAllester & Stratos (2020), "Formal limitations on the measurement of mutual
    information", AISTATS.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import time
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from mibounds import bounds as bounds_module
from mibounds import critics as critics_module
from mibounds import validation
from mibounds.estimation._settings import issue_warnings, resolve_device, resolve_seed, scaler_for
from mibounds.estimation.data import as_array, check_pair
from mibounds.estimation.diagnostics import (
    NON_GAUSSIAN_Z,
    check_fold_sizes,
    check_scaled,
    constant_column_notes,
    deterministic_notes,
    diagnose,
    fit_penalty_notes,
    kurtosis_z,
)
from mibounds.estimation.discrete import categorical_sides, fit_categorical
from mibounds.estimation.heldout import EVALUATION_BLOCK, HeldoutValues, evaluate, gaussian_fit_penalty
from mibounds.estimation.names import check_bound, check_critic, estimator_bounds
from mibounds.estimation.result import EstimateResult

if TYPE_CHECKING:
    from mibounds.estimation.conditional import ConditionalEstimateResult
from mibounds.estimation.scaling import Standardizer
from mibounds.estimation.training import FoldCritic, FoldPlan, MemberList, fold_plan, train
from mibounds.estimation.uncertainty import (
    Interval,
    crossfit_interval,
    heldout_interval,
    one_sided_lower,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BOUND",
    "DEFAULT_CRITIC",
    "MIEstimator",
    "estimate",
    "estimator_bounds",
]

DEFAULT_BOUND = "js"
DEFAULT_CRITIC = "separable"
#: Options of the named residual critics unless critic_kwargs says otherwise: one hidden layer of
#: smooth (softplus) units; the Gaussian critic carries the linear part of the dependence.
DEFAULT_CRITIC_KWARGS: dict[str, dict[str, Any]] = {
    "separable": {"activation": "softplus", "num_layers": 1, "hidden_dim": 128},
    "concat": {"activation": "softplus", "num_layers": 1, "hidden_dim": 128},
}
# Named critics with a stacked form that runs the M members in one pass.
_STACKED = {"separable": "StackedSeparableCritic", "concat": "StackedConcatCritic"}
# Critics whose score matrix of a block of B rows costs O(B) network evaluations: evaluated over
# blocks of EVALUATION_BLOCK rows; the others (a network per pair) over smaller blocks.
_CHEAP_SCORES = {"separable", "bilinear"}
_PAIRWISE_BLOCK = 128
# Most columns (x and y together) for which the joint Gaussianity of the normal scores is tested.
_MAX_KURTOSIS_COLUMNS = 1000
DEFAULT_NUM_FOLDS = 5
DEFAULT_BATCH_SIZE = 128
DEFAULT_MAX_STEPS = 5000
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_WEIGHT_DECAY = 0.0
DEFAULT_PATIENCE = 5
#: Patience when the normal scores are not jointly Gaussian (Mardia's kurtosis test, |z| > 4): the
#: Gaussian critic is then not the optimal one, and a residual that starts at zero can go
#: 1,000-2,000 steps without a held-out gain before it learns (the spiral of docs/accuracy.md).
NON_GAUSSIAN_PATIENCE = 20
DEFAULT_EVAL_EVERY = 100


class MIEstimator:
    """Estimate I(X; Y) in nats from paired samples, with a held-out interval (scikit-learn style).

    ``__init__`` only stores its arguments; :meth:`fit` does the work (see the module docstring
    for the procedure) and sets the fitted attributes, whose names end in ``_``.

    Args:
        bound: The bound that trains the critics, from :func:`estimator_bounds`. With ``js``
            (default), ``smile`` or ``nwj`` the estimate is the held-out mean log density ratio;
            with the others it is the bound's held-out value at batch size K.
        critic: The learned (residual) critic: ``"separable"``, ``"bilinear"``, ``"concat"``, or
            your own ``nn.Module`` mapping ``x [K, dx], y [K, dy]`` to ``scores [K, K]`` (copied,
            not changed, by :meth:`fit`; each fold gets a copy with fresh weights), or None for
            the Gaussian critic alone. Named critics get :data:`DEFAULT_CRITIC_KWARGS` unless
            ``critic_kwargs`` overrides, and start at zero (their last layer is zeroed).
        gaussian: Add the Gaussian critic fitted in closed form to the learned one.
        num_folds: F >= 3 folds, one critic each.
        batch_size: K, pairs per training batch. None: ``128``, or the smallest fold when smaller.
        max_steps: Most optimizer steps.
        learning_rate: Adam's step size.
        weight_decay: Decoupled weight decay (AdamW) of the critics' weights; 0 is plain Adam.
        patience: Validation checks without improvement before stopping. None (default):
            chosen from the data, :data:`DEFAULT_PATIENCE` (5) when the normal scores pass
            Mardia's kurtosis test of joint Gaussianity (|z| <= 4: the Gaussian critic already is
            the optimal critic, the residual can only fit noise) and :data:`NON_GAUSSIAN_PATIENCE`
            (20) when they fail it (the residual has something to find, and often needs a long
            first stretch without held-out gain before it finds it); ``result_.patience`` says
            which. The test is skipped, keeping 5, with over 1,000 columns or under 10 rows a
            column, where it says little.
        eval_every: Steps between validation checks.
        standardize: ``True`` (or ``"quantile"``, the default): map every column through its
            empirical CDF to standard-normal scores (:class:`~mibounds.estimation.scaling.QuantileNormalizer`;
            MI is unchanged by such increasing maps). ``"zscore"``: subtract the mean, divide by
            the std. ``False``: use the values as given.
        confidence: Coverage of the interval (two-sided) and of the lower bound (one-sided).
        device: ``"auto"`` (CUDA when available, else CPU), or a torch device.
        random_state: Seed for the folds, the batches and the critics' initialization; None draws
            one (recorded in the result, so any run can be repeated).
        progress: Show a progress bar while training (needs tqdm; silently none without it).
        critic_kwargs: Extra arguments of the named critic, e.g. ``{"hidden_dim": 256}``.
        bound_kwargs: Hyper-parameters of the bound, e.g. ``{"clip": 5.0}`` for SMILE (or name
            the bound with its parameter, ``bound="smile:5"``; a key given both ways is refused).
        discrete: Which variables hold categories: ``"auto"`` (booleans, strings, pandas
            categoricals and integer columns with at most 20 distinct values), ``"x"``, ``"y"``,
            ``"both"`` or ``"none"``. With one categorical side the estimate is the Barber–Agakov
            bound of a cross-fitted classifier, with both the plug-in estimate
            (:mod:`mibounds.estimation.discrete`); ``result_.method`` says which.

    Attributes:
        result_: The :class:`EstimateResult`.
        estimate_: The held-out estimate (nats).
        ci_: ``(low, high)`` interval.
        stderr_: Its standard error.
        lower_bound_: The one-sided lower confidence limit of the certified lower bound (nats).
        model_: The trained :class:`~mibounds.estimation.training.FoldCritic` (all folds' critics,
            bounds and baselines), on ``device_``, in eval mode.
        plan_: The :class:`~mibounds.estimation.training.FoldPlan` (which rows each critic saw).
        heldout_: The :class:`~mibounds.estimation.heldout.HeldoutValues` (per-row held-out values,
            in the order of the plan's evaluation folds).
        x_scaler_, y_scaler_: The standardization applied before the critics.
        n_features_x_, n_features_y_: Columns of x and y.
        device_: Where the critics live.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2000, 1))
        >>> y = x + rng.normal(size=(2000, 1))  # I = 0.5 log 2 = 0.347 nats
        >>> est = MIEstimator(max_steps=200, random_state=0, progress=False).fit(x, y)
        >>> 0.25 < est.estimate_ < 0.45 and est.lower_bound_ < est.estimate_
        True
    """

    # Fitted attributes whose type depends on the data: numbers get a FoldCritic, its plan and its
    # held-out values; categories a FoldClassifier and no plan (see _fit_categorical).
    model_: Any
    plan_: FoldPlan | None
    heldout_: HeldoutValues | None
    x_scaler_: Any
    y_scaler_: Any

    def __init__(
        self,
        bound: str = DEFAULT_BOUND,
        critic: str | nn.Module | None = DEFAULT_CRITIC,
        gaussian: bool = True,
        num_folds: int = DEFAULT_NUM_FOLDS,
        batch_size: int | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        learning_rate: float = DEFAULT_LEARNING_RATE,
        weight_decay: float = DEFAULT_WEIGHT_DECAY,
        patience: int | None = None,
        eval_every: int = DEFAULT_EVAL_EVERY,
        standardize: bool | str = True,
        confidence: float = 0.95,
        device: str | torch.device = "auto",
        random_state: int | None = None,
        progress: bool = True,
        critic_kwargs: dict[str, Any] | None = None,
        bound_kwargs: dict[str, Any] | None = None,
        discrete: str = "auto",
    ) -> None:
        self.bound = bound
        self.critic = critic
        self.gaussian = gaussian
        self.num_folds = num_folds
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.eval_every = eval_every
        self.standardize = standardize
        self.confidence = confidence
        self.device = device
        self.random_state = random_state
        self.progress = progress
        self.critic_kwargs = critic_kwargs
        self.bound_kwargs = bound_kwargs
        self.discrete = discrete

    # -- scikit-learn parameter protocol ----------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as a dict (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> MIEstimator:
        """Set constructor arguments by name; returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise validation.unknown_name_error("parameter", name, valid)
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k].default)]
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, x: Any, y: Any) -> MIEstimator:
        """Train the fold critics on ``(x, y)`` and estimate I(X; Y) on held-out rows.

        Args:
            x: ``[n, dx]`` samples (NumPy, torch, pandas; 1-d = one feature).
            y: ``[n, dy]`` samples, row i paired with row i of x.

        Returns:
            self, with :attr:`result_` and the other fitted attributes set. Reasons to distrust
            the estimate are in ``result_.warnings`` and issued as :class:`MIBoundsWarning`.

        Raises:
            ValueError / TypeError: For bad inputs or settings (each message names the fix).
        """
        self._fit(x, y)
        issue_warnings(self.result_.warnings)
        return self

    def _fit(self, x: Any, y: Any) -> None:
        """:meth:`fit` without issuing the warnings (the caller issues them, pointing at its caller)."""
        start = time.perf_counter()
        settings = self._checked_settings()
        sides = categorical_sides(x, y, self.discrete)
        if any(sides):
            self._fit_categorical(x, y, sides, settings, start)
            return
        xa, x_columns = as_array(x, "x")
        ya, y_columns = as_array(y, "y")
        n = check_pair(xa, ya)
        num_folds = settings["num_folds"]
        check_fold_sizes(n, num_folds)
        batch_size = self._batch_size(n // num_folds)
        notes = constant_column_notes(xa, x_columns, "x") + constant_column_notes(ya, y_columns, "y")

        seed = resolve_seed(self.random_state)
        plan = fold_plan(n, num_folds, np.random.default_rng(seed))
        scaler = scaler_for(self.standardize)
        self.x_scaler_, self.y_scaler_ = (
            (scaler.fit(xa), scaler.fit(ya))
            if scaler is not None
            else (Standardizer.identity(xa.shape[1]), Standardizer.identity(ya.shape[1]))
        )
        xs, ys = self.x_scaler_(xa), self.y_scaler_(ya)
        check_scaled(xs, x_columns, "x", self.standardize)
        check_scaled(ys, y_columns, "y", self.standardize)
        notes += deterministic_notes(xs, ys, x_columns, y_columns)
        device = resolve_device(self.device)
        self.device_ = device
        xt = torch.as_tensor(xs, dtype=torch.float32, device=device)
        yt = torch.as_tensor(ys, dtype=torch.float32, device=device)
        with torch.random.fork_rng(devices=[]):  # seeded initialization, global RNG untouched
            torch.manual_seed(seed)
            model, critic_name = self._build(xt, yt, plan)
        z = _joint_kurtosis_z(xs, ys)
        patience = settings["patience"] or (
            NON_GAUSSIAN_PATIENCE if z is not None and abs(z) > NON_GAUSSIAN_Z else DEFAULT_PATIENCE
        )
        model.to(device)
        outcome = train(
            model,
            xt,
            yt,
            plan,
            batch_size=batch_size,
            max_steps=settings["max_steps"],
            learning_rate=settings["learning_rate"],
            weight_decay=settings["weight_decay"],
            eval_every=settings["eval_every"],
            patience=patience,
            generator=torch.Generator().manual_seed(seed),
            progress=self.progress,
        )
        cheap = self.critic is None or (isinstance(self.critic, str) and self.critic in _CHEAP_SCORES)
        block = EVALUATION_BLOCK if cheap else _PAIRWISE_BLOCK
        with torch.random.fork_rng(devices=[]):  # exporting a stacked member initializes a fresh module
            held = evaluate(model, xt, yt, plan, batch_size, block)
        correction = 0.0
        if model.base is not None and held.log_ratio is not None:  # the fitted Gaussian's held-out bias
            correction = gaussian_fit_penalty(xt.shape[1], yt.shape[1], _fit_rows(plan))
            held = dataclasses.replace(
                held,
                log_ratio=held.log_ratio + correction,
                train_log_ratio=cast(float, held.train_log_ratio) - correction,
            )
        bound_name = check_bound(self.bound).name
        interval, method = _estimate(held, settings["confidence"], bound_name)
        certified = crossfit_interval(held.infonce, held.log_ratio_fold, settings["confidence"])
        ceiling = None if method == "log-ratio" else model.bound.ceiling(batch_size)
        lower_bound = one_sided_lower(certified)
        gaussian_only = model.base is not None and outcome.best_step == 0
        notes += diagnose(
            interval,
            method,
            ceiling,
            certified,
            held.infonce_ceiling,
            outcome,
            held,
            batch_size,
            bound_name,
            z if gaussian_only else None,
        )
        notes += fit_penalty_notes(correction, xt.shape[1], yt.shape[1], _fit_rows(plan))
        gaussian_mi = None if model.base is None else float(np.mean(model.base.mutual_information))

        self.result_ = EstimateResult(
            estimate=interval.estimate,
            ci_low=interval.low,
            ci_high=interval.high,
            stderr=interval.stderr,
            confidence=interval.confidence,
            lower_bound=lower_bound,
            lower_bound_value=certified.estimate,
            lower_bound_ceiling=held.infonce_ceiling,
            method=method,
            bound=model.bound.name,
            critic=critic_name,
            gaussian_mi=gaussian_mi,
            num_folds=num_folds,
            n=n,
            batch_size=batch_size,
            steps=outcome.steps,
            best_step=outcome.best_step,
            stopped=outcome.stopped,
            seconds=time.perf_counter() - start,
            device=str(device),
            random_state=seed,
            ceiling=ceiling,
            generalization_gap=interval.generalization_gap,
            bias_correction=correction,
            patience=patience,
            history=outcome.history,
            warnings=notes,
        )
        self.model_ = model
        self.plan_ = plan
        self.heldout_ = held
        self.estimate_ = interval.estimate
        self.ci_ = (interval.low, interval.high)
        self.stderr_ = interval.stderr
        self.lower_bound_ = lower_bound
        self.n_features_x_, self.n_features_y_ = xa.shape[1], ya.shape[1]

    def _fit_categorical(
        self, x: Any, y: Any, sides: tuple[bool, bool], settings: dict[str, Any], start: float
    ) -> None:
        """:meth:`_fit` when x or y holds categories (see :mod:`mibounds.estimation.discrete`)."""
        seed = resolve_seed(self.random_state)
        self.device_ = resolve_device(self.device)
        kwargs = {**DEFAULT_CRITIC_KWARGS["separable"], **(self.critic_kwargs or {})}
        kwargs = {k: kwargs[k] for k in ("hidden_dim", "num_layers", "activation") if k in kwargs}
        result, model, scaler = fit_categorical(
            x,
            y,
            sides,
            settings={**settings, "patience": settings["patience"] or DEFAULT_PATIENCE, "critic_kwargs": kwargs},
            seed=seed,
            device=self.device_,
            scaler=scaler_for(self.standardize),
            batch_size=self._batch_size,
            progress=self.progress,
        )
        if self.bound != DEFAULT_BOUND or not isinstance(self.critic, str) or self.critic != DEFAULT_CRITIC:
            result.warnings.append(
                f"{'x' if sides[0] else 'y'} is categorical, so the estimate is "
                f"{'the plug-in from the contingency table' if all(sides) else 'the Barber-Agakov bound of a classifier'}: "
                "the bound and critic settings do not apply (pass discrete='none' to treat integer labels as numbers)"
            )
        result.seconds = time.perf_counter() - start
        self.result_, self.model_, self.plan_, self.heldout_ = result, model, None, None
        self.estimate_, self.ci_, self.stderr_ = result.estimate, (result.ci_low, result.ci_high), result.stderr
        self.lower_bound_ = result.lower_bound
        self.x_scaler_ = scaler if sides[1] else None
        self.y_scaler_ = scaler if sides[0] else None

    def _checked_settings(self) -> dict[str, Any]:
        """Validate the numeric settings before any work, with messages naming the fix."""
        out: dict[str, Any] = {}
        for name, minimum in (("max_steps", 1), ("patience", 1), ("eval_every", 1), ("num_folds", 3)):
            if name == "patience" and self.patience is None:  # chosen from the data in _fit
                out[name] = None
                continue
            out[name] = validation.check_int(getattr(self, name), name, minimum=minimum, kind="a whole number")
        out["learning_rate"] = validation.check_positive(self.learning_rate, "learning_rate")
        out["weight_decay"] = float(self.weight_decay)
        if not (out["weight_decay"] >= 0 and math.isfinite(out["weight_decay"])):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        out["confidence"] = validation.check_probability(
            self.confidence, "confidence", allow_zero=False, allow_one=False
        )
        if self.batch_size is not None:
            validation.check_int(
                self.batch_size, "batch_size", minimum=2, kind="a whole number", why="a bound needs negatives"
            )
        if not isinstance(self.gaussian, bool):
            raise TypeError(f"gaussian must be True or False, got {self.gaussian!r}")
        if self.critic is None and not self.gaussian:
            raise ValueError("critic=None leaves nothing to estimate with; keep gaussian=True or name a critic")
        return out

    def _batch_size(self, fold_rows: int) -> int:
        if self.batch_size is None:
            return min(DEFAULT_BATCH_SIZE, fold_rows)
        if self.batch_size > fold_rows:
            raise ValueError(
                f"batch_size {self.batch_size} is larger than a fold ({fold_rows} rows with "
                f"num_folds = {self.num_folds}); pass batch_size={fold_rows} or less (or leave it None to choose)"
            )
        return int(self.batch_size)

    def _build(self, x: torch.Tensor, y: torch.Tensor, plan: FoldPlan) -> tuple[FoldCritic, str]:
        """The fold critics: a Gaussian base and a residual per fold, a bound (and baseline) each."""
        check_bound(self.bound)
        info, bound_params = bounds_module.parse(self.bound, **(self.bound_kwargs or {}))
        members = plan.num_folds
        bound_list = [bounds_module.make(info.name, **bound_params) for _ in range(members)]
        residual, critic_name = self._residual(x.shape[1], y.shape[1], members)
        base = None
        if self.gaussian and _fit_rows(plan) <= x.shape[1] + y.shape[1] + 1:
            raise ValueError(
                f"the Gaussian critic fits the covariance of {x.shape[1]} + {y.shape[1]} columns from "
                f"{_fit_rows(plan)} rows per fold, which is singular: pass more than "
                f"{(x.shape[1] + y.shape[1] + 1) * plan.num_folds // (plan.num_folds - 1) + 1} rows, fewer columns "
                "(e.g. a PCA of each side), or gaussian=False"
            )
        if self.gaussian:
            fits = []
            for m in range(members):
                rows = torch.as_tensor(np.concatenate([plan.training(m), plan.validation(m)]), device=x.device)
                fits.append(critics_module.GaussianCritic.fit(x[rows], y[rows]))
            base = critics_module.GaussianCritic.stack(fits).float()
            critic_name = "gaussian" if residual is None else f"gaussian+{critic_name}"
        baselines = None
        if "log_baseline" in info.needs:
            baselines = [critics_module.MLPBaseline(y.shape[1]) for _ in range(members)]
        return FoldCritic(residual, base, bound_list, baselines).float(), critic_name

    def _residual(self, dim_x: int, dim_y: int, members: int) -> tuple[nn.Module | None, str]:
        if self.critic is None:
            return None, "gaussian"
        if isinstance(self.critic, nn.Module):
            if self.critic_kwargs:
                raise ValueError("critic_kwargs apply to a critic given by name; configure your module directly")
            copies = [copy.deepcopy(self.critic) for _ in range(members)]
            for member in copies[1:]:  # fresh initial weights, so the members differ
                for module in member.modules():
                    reset = getattr(module, "reset_parameters", None)
                    if callable(reset):
                        reset()
            return MemberList(copies), type(self.critic).__name__
        if not isinstance(self.critic, str):
            raise TypeError(
                f"critic must be a name ({', '.join(critics_module.names())}), an nn.Module or None, "
                f"got {type(self.critic).__name__}"
            )
        check_critic(self.critic)
        kwargs = {**DEFAULT_CRITIC_KWARGS.get(self.critic, {}), **(self.critic_kwargs or {})}
        stacked = _STACKED.get(self.critic)
        if stacked is not None:
            residual: Any = getattr(critics_module, stacked)(members, dim_x, dim_y, **kwargs)
            last = residual.h[-1] if self.critic == "separable" else residual.net[-1]
        else:
            residual = MemberList([critics_module.make(self.critic, dim_x, dim_y, **kwargs) for _ in range(members)])
            last = None
        with torch.no_grad():  # start at zero: the residual adds to the Gaussian critic
            for tensor in (last.weight, last.bias) if last is not None else (p for p in residual.parameters()):
                tensor.zero_()
        return residual, self.critic


def estimate(
    x: Any,
    y: Any,
    z: Any = None,
    *,
    bound: str = DEFAULT_BOUND,
    critic: str | nn.Module | None = DEFAULT_CRITIC,
    gaussian: bool = True,
    num_folds: int = DEFAULT_NUM_FOLDS,
    batch_size: int | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    patience: int | None = None,
    eval_every: int = DEFAULT_EVAL_EVERY,
    standardize: bool | str = True,
    confidence: float = 0.95,
    device: str | torch.device = "auto",
    random_state: int | None = None,
    progress: bool = True,
    critic_kwargs: dict[str, Any] | None = None,
    bound_kwargs: dict[str, Any] | None = None,
    discrete: str = "auto",
) -> EstimateResult | ConditionalEstimateResult:
    """Estimate I(X; Y) in nats from paired samples, with a held-out interval and a lower bound.

    Cross-fits a Gaussian critic plus a learned residual critic and reports what they say on rows
    they never saw; see :class:`MIEstimator` for every argument and the module docstring for the
    procedure.

    Args:
        x: ``[n, dx]`` samples (NumPy, torch, pandas; 1-d = one feature).
        y: ``[n, dy]`` samples, row i paired with row i of x.
        z: Optional ``[n, dz]`` conditioning samples: then the conditional MI I(X; Y | Z) is
            estimated (:func:`~mibounds.estimation.conditional.conditional_estimate`).

    Returns:
        The :class:`EstimateResult` (``estimate``, ``ci_low``, ``ci_high``, ``lower_bound``, ...),
        or with ``z`` a :class:`~mibounds.estimation.conditional.ConditionalEstimateResult`.

    Example:
        >>> import numpy as np, mibounds
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2000, 1))
        >>> y = x + rng.normal(size=(2000, 1))  # I = 0.5 log 2 = 0.347 nats
        >>> result = mibounds.estimate(x, y, max_steps=200, random_state=0, progress=False)
        >>> result.ci_low < 0.347 < result.ci_high and result.lower_bound < 0.347
        True
    """
    params = {k: v for k, v in locals().items() if k not in {"x", "y", "z"}}
    if z is not None:
        from mibounds.estimation.conditional import conditional_estimate  # it builds on this module

        return conditional_estimate(x, y, z, **params)
    estimator = MIEstimator(**params)
    estimator._fit(x, y)
    issue_warnings(estimator.result_.warnings)
    return estimator.result_


def _estimate(held: HeldoutValues, confidence: float, bound: str) -> tuple[Interval, str]:
    """The estimate with its interval, and how it was made (``"log-ratio"`` or ``"bound"``)."""
    if held.log_ratio is not None:
        return crossfit_interval(held.log_ratio, held.log_ratio_fold, confidence, held.train_log_ratio), "log-ratio"
    if len(held.batch_values) < 2:
        raise ValueError(
            f"the held-out folds hold fewer than 2 batches for the {bound} bound's value; pass a smaller "
            "batch_size or more rows"
        )
    return heldout_interval(held.batch_values, [held.train_batch_value], confidence), "bound"


# -- helpers ---------------------------------------------------------------------------------


def _fit_rows(plan: FoldPlan) -> int:
    """Rows each Gaussian critic is fitted on (its training and validation folds; the smallest)."""
    return min(len(plan.training(m)) + len(plan.validation(m)) for m in range(plan.num_folds))


def _joint_kurtosis_z(xs: np.ndarray, ys: np.ndarray) -> float | None:
    """Mardia's kurtosis z of the scaled rows of x and y together, or None where the test says little.

    The test needs many more rows than columns, and costs O(n p^2 + p^3): with more than
    :data:`_MAX_KURTOSIS_COLUMNS` columns, or fewer than 10 rows a column, it is skipped.
    """
    rows, columns = xs.shape[0], xs.shape[1] + ys.shape[1]
    if columns > _MAX_KURTOSIS_COLUMNS or rows < 10 * columns:
        return None
    return kurtosis_z(np.hstack([xs, ys]))


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. tensors or modules: compare by identity
        return a is b
