"""Estimate mutual information from paired samples: :func:`estimate` and :class:`MIEstimator`.

Procedure (one call):

1. Check and convert the inputs (NumPy, torch, pandas; a 1-d array is one feature).
2. Shuffle and split the rows into train / validation / test (``validation_fraction``,
   ``test_fraction``; seeded by ``random_state``).
3. Standardize each column with statistics of the *training* split only: by default map it
   through the training empirical CDF to standard-normal scores (``standardize=True``); MI is
   unchanged by increasing per-column maps, while the critic learns Gaussian-shaped inputs far
   more easily than heavy-tailed ones (``"zscore"`` and ``False`` are the alternatives).
4. Train ``num_critics`` critics side by side (one stacked network; each member on its own random
   batches of K training pairs, with Adam), keeping a moving average of the weights
   (``ema_decay``). Every ``eval_every`` steps check the bound of the averaged critic (the mean of
   the members' scores) on the validation split; stop after ``patience`` checks without
   improvement and restore the weights of the best check.
5. Report the bound's value on the test split only, the mean over disjoint batches of K pairs,
   with a standard error and a Student-t interval from the batch values; the interval's upper
   end is raised by half the critic's generalization gap (its value on as many training rows
   minus its held-out value), because a critic fitted to n rows scores on fresh rows about as far
   below the best critic as it scores above it on its own rows
   (:mod:`mibounds.estimation.uncertainty`). For bounds trained with another objective (``js``,
   ``smile``, ``mine``) the reported number is the bound's value, not the training objective.

The number depends on K: InfoNCE, for example, can never exceed log K, and no interval can cover
an MI that the bound cannot reach (the result then carries a warning). Measured accuracy and
coverage of the defaults: ``benchmarks/bench_estimate.py``.
"""

from __future__ import annotations

import copy
import inspect
import math
import time
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from mibounds import bounds as bounds_module
from mibounds import critics as critics_module
from mibounds import validation
from mibounds.estimation.data import as_array, check_pair
from mibounds.estimation.result import EstimateResult
from mibounds.estimation.splits import (
    MIN_TEST_BATCHES,
    QuantileNormalizer,
    Standardizer,
    check_sizes,
    split_indices,
    split_sizes,
)
from mibounds.estimation.training import BoundObjective, MemberList, batch_values, train
from mibounds.estimation.uncertainty import heldout_interval

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BOUND",
    "DEFAULT_CRITIC",
    "MIEstimator",
    "estimate",
    "estimator_bounds",
]

# Defaults chosen by measurement on the ground-truth tasks (benchmarks/bench_defaults.py): with a
# fixed sample the critic's generalization, not its optimization, limits the held-out estimate,
# so the defaults favour smooth, averaged critics and a moderate learning rate.
DEFAULT_BOUND = "smile"
DEFAULT_CRITIC = "separable"
#: Options of the named critics unless critic_kwargs says otherwise: smooth (softplus) units
#: generalize better from a fixed sample than ReLU, and one hidden layer is as accurate as two.
DEFAULT_CRITIC_KWARGS: dict[str, dict[str, Any]] = {
    "separable": {"activation": "softplus", "num_layers": 1},
    "concat": {"activation": "softplus", "num_layers": 1},
}
#: Critics trained side by side, each on its own batches; the estimate uses their mean scores.
DEFAULT_NUM_CRITICS = 4
# Named critics with a stacked form that runs M members in one pass.
_STACKED = {"separable": "StackedSeparableCritic", "concat": "StackedConcatCritic"}
DEFAULT_BATCH_SIZE = 128
DEFAULT_MAX_STEPS = 10_000
DEFAULT_LEARNING_RATE = 5e-4
DEFAULT_WEIGHT_DECAY = 0.0
DEFAULT_EMA_DECAY = 0.99
DEFAULT_PATIENCE = 10
DEFAULT_EVAL_EVERY = 100
#: Smallest K the automatic batch size goes down to for small data sets.
MIN_AUTO_BATCH_SIZE = 8
#: An estimate this close (nats) to the bound's ceiling is reported as pinned.
PINNED_MARGIN = 1.0


def estimator_bounds() -> list[str]:
    """Bounds :func:`estimate` can train a critic with: the registry's score-based lower bounds."""
    return bounds_module.names(kind="lower", score_based=True)


class MIEstimator:
    """Estimate I(X; Y) in nats from paired samples, with a held-out interval (scikit-learn style).

    ``__init__`` only stores its arguments; :meth:`fit` does the work (see the module docstring
    for the procedure) and sets the fitted attributes, whose names end in ``_``.

    Args:
        bound: A score-based lower bound from :func:`estimator_bounds` (``mibounds bounds`` lists
            them).
        critic: ``"separable"``, ``"bilinear"``, ``"concat"``, or your own ``nn.Module`` mapping
            ``x [K, dx], y [K, dy]`` to ``scores [K, K]`` (copied, not changed, by :meth:`fit`).
            Named critics get :data:`DEFAULT_CRITIC_KWARGS` unless ``critic_kwargs`` overrides.
        batch_size: K, pairs per batch in training and evaluation. None: ``128``, lowered for
            small data so the test split holds at least 10 batches (but not below 8).
        max_steps: Most optimizer steps.
        learning_rate: Adam's step size.
        weight_decay: Decoupled weight decay (AdamW) of the critic's weights; 0 is plain Adam.
        ema_decay: Evaluate (and keep) an exponential moving average of the weights with this
            decay instead of the raw weights; 0 turns it off.
        num_critics: Train this many critics side by side (different initial weights, different
            batches) and report the bound of their averaged scores, one critic with less of the
            members' individual error. Named critics with a stacked form run in one pass.
        validation_fraction: Share of rows for early stopping.
        test_fraction: Share of rows for the reported estimate.
        patience: Validation checks without improvement before stopping.
        eval_every: Steps between validation checks.
        standardize: ``True`` (or ``"quantile"``, the default): map every column through the
            training split's empirical CDF to standard-normal scores
            (:class:`~mibounds.estimation.splits.QuantileNormalizer`; MI is unchanged by such
            increasing maps, and heavy-tailed or skewed columns become easy for the critic).
            ``"zscore"``: subtract the training mean, divide by the training std. ``False``: use
            the values as given.
        confidence: Coverage of the interval.
        device: ``"auto"`` (CUDA when available, else CPU), or a torch device.
        random_state: Seed for the split, the batch order and the critic's initialization; None
            draws one (recorded in the result, so any run can be repeated).
        progress: Show a progress bar while training (needs tqdm; silently none without it).
        critic_kwargs: Extra arguments of the named critic, e.g. ``{"hidden_dim": 128}``.
        bound_kwargs: Hyper-parameters of the bound, e.g. ``{"clip": 5.0}`` for SMILE or
            ``{"alpha": 0.5}`` for the interpolated bound.

    Attributes:
        result_: The :class:`EstimateResult`.
        estimate_: The held-out estimate (nats).
        ci_: ``(low, high)`` interval.
        stderr_: Its standard error.
        objective_: The trained module (critic, bound, baseline), on ``device_``, in eval mode.
        critic_: The trained critic.
        x_scaler_, y_scaler_: The standardization applied before the critic.
        n_features_x_, n_features_y_: Columns of x and y.
        device_: Where the critic lives.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2000, 1))
        >>> y = x + rng.normal(size=(2000, 1))  # I = 0.5 log 2 = 0.347 nats
        >>> est = MIEstimator(max_steps=300, random_state=0, progress=False).fit(x, y)
        >>> 0.1 < est.estimate_ < 0.6
        True
    """

    def __init__(
        self,
        bound: str = DEFAULT_BOUND,
        critic: str | nn.Module = DEFAULT_CRITIC,
        batch_size: int | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        learning_rate: float = DEFAULT_LEARNING_RATE,
        weight_decay: float = DEFAULT_WEIGHT_DECAY,
        ema_decay: float = DEFAULT_EMA_DECAY,
        num_critics: int = DEFAULT_NUM_CRITICS,
        validation_fraction: float = 0.2,
        test_fraction: float = 0.2,
        patience: int = DEFAULT_PATIENCE,
        eval_every: int = DEFAULT_EVAL_EVERY,
        standardize: bool | str = True,
        confidence: float = 0.95,
        device: str | torch.device = "auto",
        random_state: int | None = None,
        progress: bool = True,
        critic_kwargs: dict[str, Any] | None = None,
        bound_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.bound = bound
        self.critic = critic
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.num_critics = num_critics
        self.validation_fraction = validation_fraction
        self.test_fraction = test_fraction
        self.patience = patience
        self.eval_every = eval_every
        self.standardize = standardize
        self.confidence = confidence
        self.device = device
        self.random_state = random_state
        self.progress = progress
        self.critic_kwargs = critic_kwargs
        self.bound_kwargs = bound_kwargs

    # -- scikit-learn parameter protocol ----------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as a dict (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "MIEstimator":
        """Set constructor arguments by name; returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise validation.unknown_name_error("parameter", name, valid)
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, x: Any, y: Any) -> "MIEstimator":
        """Train a critic on part of ``(x, y)`` and estimate I(X; Y) on held-out rows.

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
        _issue(self.result_.warnings)
        return self

    def _fit(self, x: Any, y: Any) -> None:
        """:meth:`fit` without issuing the warnings (the caller issues them, pointing at its caller)."""
        start = time.perf_counter()
        settings = self._checked_settings()
        xa, x_columns = as_array(x, "x")
        ya, y_columns = as_array(y, "y")
        n = check_pair(xa, ya)
        sizes = split_sizes(n, self.validation_fraction, self.test_fraction)
        batch_size = self._batch_size(sizes[2])
        check_sizes(n, sizes, batch_size)
        notes = _constant_column_notes(xa, x_columns, "x") + _constant_column_notes(ya, y_columns, "y")

        seed = _resolve_seed(self.random_state)
        split = split_indices(n, sizes, np.random.default_rng(seed))
        scaler = _scaler(self.standardize)
        self.x_scaler_, self.y_scaler_ = (
            (scaler.fit(xa[split.train]), scaler.fit(ya[split.train]))
            if scaler is not None
            else (Standardizer.identity(xa.shape[1]), Standardizer.identity(ya.shape[1]))
        )
        device = _resolve_device(self.device)
        self.device_ = device

        def tensors(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            return (
                torch.as_tensor(self.x_scaler_(xa[rows]), dtype=torch.float32, device=device),
                torch.as_tensor(self.y_scaler_(ya[rows]), dtype=torch.float32, device=device),
            )

        with torch.random.fork_rng(devices=[]):  # seeded initialization, global RNG untouched
            torch.manual_seed(seed)
            objective, critic_name = self._build(xa.shape[1], ya.shape[1], settings["num_critics"])
        objective.to(device)
        outcome = train(
            objective,
            tensors(split.train),
            tensors(split.validation),
            batch_size=batch_size,
            max_steps=settings["max_steps"],
            learning_rate=settings["learning_rate"],
            weight_decay=settings["weight_decay"],
            ema_decay=settings["ema_decay"],
            eval_every=settings["eval_every"],
            patience=settings["patience"],
            generator=torch.Generator().manual_seed(seed),
            progress=self.progress,
        )
        test_values = batch_values(objective, *tensors(split.test), batch_size)
        # The same critic on as many training rows: the gap measures how much it overfit.
        train_values = batch_values(objective, *tensors(split.train[: len(split.test)]), batch_size)
        if not (np.isfinite(test_values).all() and np.isfinite(train_values).all()):
            # only if even the best weights overflow
            raise ValueError(
                f"the trained critic gives NaN/inf values of {self.bound} on the held-out rows; use a "
                "smaller learning_rate or a stabler bound (smile, infonce)"
            )
        interval = heldout_interval(test_values, train_values, settings["confidence"])
        ceiling = objective.bound.ceiling(batch_size)
        notes += _diagnose(interval.estimate, ceiling, outcome, len(test_values), batch_size, self.bound)

        self.result_ = EstimateResult(
            estimate=interval.estimate,
            ci_low=interval.low,
            ci_high=interval.high,
            stderr=interval.stderr,
            confidence=interval.confidence,
            generalization_gap=interval.generalization_gap,
            bound=objective.bound.name,
            critic=critic_name,
            num_critics=objective.num_members,
            n_train=len(split.train),
            n_validation=len(split.validation),
            n_test=len(split.test),
            batch_size=batch_size,
            num_test_batches=interval.num_batches,
            steps=outcome.steps,
            best_step=outcome.best_step,
            stopped=outcome.stopped,
            seconds=time.perf_counter() - start,
            device=str(device),
            random_state=seed,
            ceiling=ceiling,
            history=outcome.history,
            warnings=notes,
        )
        self.objective_ = objective
        self.critic_ = objective.critic
        self.estimate_ = interval.estimate
        self.ci_ = (interval.low, interval.high)
        self.stderr_ = interval.stderr
        self.n_features_x_, self.n_features_y_ = xa.shape[1], ya.shape[1]

    def _checked_settings(self) -> dict[str, Any]:
        """Validate the numeric settings before any work, with messages naming the fix."""
        out: dict[str, Any] = {}
        for name in ("max_steps", "patience", "eval_every", "num_critics"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
            out[name] = int(value)
        out["learning_rate"] = validation.check_positive(self.learning_rate, "learning_rate")
        out["ema_decay"] = validation.check_probability(self.ema_decay, "ema_decay", allow_one=False)
        out["weight_decay"] = float(self.weight_decay)
        if not (out["weight_decay"] >= 0 and math.isfinite(out["weight_decay"])):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        out["confidence"] = validation.check_probability(
            self.confidence, "confidence", allow_zero=False, allow_one=False
        )
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 2
        ):
            raise ValueError(
                f"batch_size must be a whole number >= 2 (a bound needs negatives), got {self.batch_size!r}"
            )
        return out

    def _batch_size(self, n_test: int) -> int:
        if self.batch_size is not None:
            return int(self.batch_size)
        return min(DEFAULT_BATCH_SIZE, max(MIN_AUTO_BATCH_SIZE, n_test // MIN_TEST_BATCHES))

    def _build(self, dim_x: int, dim_y: int, members: int) -> tuple[BoundObjective, str]:
        """The critic (or M of them), a bound module each and, for TUBA-type bounds, baselines."""
        valid = estimator_bounds()
        try:
            info = bounds_module.get(self.bound)
        except ValueError:
            raise validation.unknown_name_error("bound", self.bound, valid) from None
        if info.name not in valid:
            raise ValueError(
                f"bound {info.name!r} cannot train a critic from samples (it is "
                f"{'an upper bound' if info.kind == 'upper' else 'a structured bound'} that needs "
                f"{', '.join(info.needs)}); choose one of: {', '.join(valid)}"
            )
        bound_list = [bounds_module.make(info.name, **(self.bound_kwargs or {})) for _ in range(members)]
        critic, critic_name = self._critic(dim_x, dim_y, members)
        baselines = None
        if "log_baseline" in info.needs:
            baselines = [critics_module.MLPBaseline(dim_y) for _ in range(members)]
        return BoundObjective(critic, bound_list, baselines).float(), critic_name

    def _critic(self, dim_x: int, dim_y: int, members: int) -> tuple[nn.Module, str]:
        if isinstance(self.critic, nn.Module):
            if self.critic_kwargs:
                raise ValueError("critic_kwargs apply to a critic given by name; configure your module directly")
            copies = [copy.deepcopy(self.critic) for _ in range(members)]
            for member in copies[1:]:  # fresh initial weights, so the members differ
                for module in member.modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()
            critic = copies[0] if members == 1 else MemberList(copies)
            return critic, type(self.critic).__name__
        if not isinstance(self.critic, str):
            raise TypeError(
                f"critic must be a name ({', '.join(critics_module.names())}) or an nn.Module, "
                f"got {type(self.critic).__name__}"
            )
        if self.critic not in critics_module.names():
            raise validation.unknown_name_error("critic", self.critic, critics_module.names())
        kwargs = {**DEFAULT_CRITIC_KWARGS.get(self.critic, {}), **(self.critic_kwargs or {})}
        if members == 1:
            return critics_module.make(self.critic, dim_x, dim_y, **kwargs), self.critic
        stacked = _STACKED.get(self.critic)
        if stacked is not None:
            return getattr(critics_module, stacked)(members, dim_x, dim_y, **kwargs), self.critic
        return MemberList([critics_module.make(self.critic, dim_x, dim_y, **kwargs) for _ in range(members)]), self.critic


def estimate(
    x: Any,
    y: Any,
    *,
    bound: str = DEFAULT_BOUND,
    critic: str | nn.Module = DEFAULT_CRITIC,
    batch_size: int | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    ema_decay: float = DEFAULT_EMA_DECAY,
    num_critics: int = DEFAULT_NUM_CRITICS,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    patience: int = DEFAULT_PATIENCE,
    eval_every: int = DEFAULT_EVAL_EVERY,
    standardize: bool | str = True,
    confidence: float = 0.95,
    device: str | torch.device = "auto",
    random_state: int | None = None,
    progress: bool = True,
    critic_kwargs: dict[str, Any] | None = None,
    bound_kwargs: dict[str, Any] | None = None,
) -> EstimateResult:
    """Estimate I(X; Y) in nats from paired samples, with a held-out confidence interval.

    Trains a critic on a variational lower bound and evaluates the bound on held-out rows; see
    :class:`MIEstimator` for every argument and the module docstring for the procedure.

    Args:
        x: ``[n, dx]`` samples (NumPy, torch, pandas; 1-d = one feature).
        y: ``[n, dy]`` samples, row i paired with row i of x.

    Returns:
        The :class:`EstimateResult` (``estimate``, ``ci_low``, ``ci_high``, ``stderr``, ...).

    Example:
        >>> import numpy as np, mibounds
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2000, 1))
        >>> y = x + rng.normal(size=(2000, 1))  # I = 0.5 log 2 = 0.347 nats
        >>> result = mibounds.estimate(x, y, max_steps=300, random_state=0, progress=False)
        >>> result.ci_low < result.ci_high
        True
    """
    params = {k: v for k, v in locals().items() if k not in {"x", "y"}}
    estimator = MIEstimator(**params)
    estimator._fit(x, y)
    _issue(estimator.result_.warnings)
    return estimator.result_


# -- helpers ---------------------------------------------------------------------------------


def _issue(notes: list[str]) -> None:
    # stacklevel 3: the line that called fit() or estimate().
    for note in notes:
        warnings.warn(note, validation.MIBoundsWarning, stacklevel=3)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. tensors or modules: compare by identity
        return a is b


def _scaler(standardize: bool | str) -> type[Standardizer] | type[QuantileNormalizer] | None:
    if standardize is True or standardize == "quantile":
        return QuantileNormalizer
    if standardize == "zscore":
        return Standardizer
    if standardize is False or standardize is None:
        return None
    raise ValueError(f"standardize must be True (or 'quantile'), 'zscore' or False, got {standardize!r}")


def _resolve_seed(random_state: Any) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**32))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise ValueError(f"random_state must be None or a whole number >= 0, got {random_state!r}")


def _resolve_device(device: str | torch.device) -> torch.device:
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for CUDA, which is not available here; use 'auto' or 'cpu'")
    return resolved


def _constant_column_notes(values: np.ndarray, columns: list[str], name: str) -> list[str]:
    constant = validation.constant_columns(values)
    if not constant:
        return []
    shown = ", ".join(repr(columns[j]) for j in constant[:10]) + (", ..." if len(constant) > 10 else "")
    if len(constant) == values.shape[1]:
        return [
            f"every column of {name} is constant ({shown}): it carries no information, so the "
            "MI is 0; check that you passed the right data"
        ]
    return [f"{name} has constant columns {shown}: they carry no information; drop them"]


def _diagnose(
    value: float, ceiling: float | None, outcome: Any, num_test_batches: int, batch_size: int, bound: str
) -> list[str]:
    """Sentences saying why the estimate may not be trusted (empty when nothing is wrong)."""
    notes = []
    if outcome.stopped == "diverged":
        notes.append(
            f"training diverged (NaN/inf loss, weights or optimizer state) by step {outcome.steps}; "
            f"stopped and restored the weights of step {outcome.best_step}: use a smaller "
            "learning_rate or a stabler bound (smile, js, infonce)"
        )
    if ceiling is not None and value > ceiling - PINNED_MARGIN:
        ceiling_name = "log K" if math.isclose(ceiling, math.log(batch_size)) else "its ceiling"
        notes.append(
            f"the {bound} estimate {value:.3f} is pinned at {ceiling_name} = {ceiling:.3f} "
            f"(within {PINNED_MARGIN:g} nat at batch size K = {batch_size}), so the MI may be much "
            "larger: use a larger batch or another bound (e.g. smile)"
        )
    if value < 0:
        notes.append(
            f"the estimate is negative ({value:.3f} nats) while MI is >= 0: no dependence was "
            "detected, or the critic is undertrained (try more max_steps or samples)"
        )
    if num_test_batches < MIN_TEST_BATCHES:
        notes.append(
            f"only {num_test_batches} test batches of {batch_size} rows: too few samples for this "
            "batch size, so the standard error is itself unreliable; pass more rows, a smaller "
            "batch_size or a larger test_fraction"
        )
    return notes
