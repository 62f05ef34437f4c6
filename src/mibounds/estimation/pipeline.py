"""One estimate, stage by stage: :func:`run` (what :func:`mibounds.estimate` and every other face call).

The stages, in order, each a function of the previous ones' outputs and the settings:

1. :func:`validate`: check and convert the inputs (NumPy, torch, pandas; a 1-d array is one
   feature; pandas rows paired by index and masked rows left out first, by
   :func:`~mibounds.estimation.data.pair_rows`); note constant columns.
2. :func:`prepare`: map every column to standard-normal scores through its empirical CDF
   (``standardize``; MI is unchanged by increasing per-column maps, and the map uses each column
   on its own, never the pairing), cut the shuffled rows into folds
   (:class:`~mibounds.estimation.training.FoldPlan`: critic m trains on ``num_folds - 2`` folds,
   early-stops on fold m + 1 and is evaluated on fold m), unmix each side
   (:mod:`~mibounds.estimation.unmixing`) where the scores are not jointly Gaussian and the
   Gaussian critic of the unmixed columns certifies more of I on validation rows, and choose the
   patience from Mardia's kurtosis test of joint Gaussianity of what the critics will see.
3. :func:`fit`: build the fold critics (:func:`~mibounds.estimation.fold_critics.build_fold_critic`:
   a Gaussian critic fitted in closed form plus a learned residual that starts at zero) and train
   them side by side on the bound, with Adam and early stopping on their validation folds.
4. :func:`evaluate`: score every row with the critic that never saw it
   (:mod:`mibounds.estimation.heldout`): the estimate (the mean held-out log density ratio for
   ``js``, ``smile``, ``nwj``; the bound's held-out batch value for the others) with its
   cross-fitted interval, and the certified lower bound (held-out InfoNCE; it can never exceed
   log B, B the block size: McAllester & Stratos 2020).
5. :func:`diagnose`: the reasons to distrust the number (:mod:`mibounds.estimation.diagnostics`).
6. :func:`assemble`: the :class:`~mibounds.estimation.result.EstimateResult`.

A categorical side takes its own path after :func:`validate` (:mod:`mibounds.estimation.discrete`).
No stage calls back into a public face; the faces only make the settings and call :func:`run`.

References:
    Cross-fitting: Chernozhukov et al. (2018), "Double/debiased machine learning", Econometrics
    Journal 21(1). The plug-in log-ratio estimate from a classifier: Liao et al. (2020), "DEMI:
    Discriminative estimator of mutual information" (arXiv:2010.01766). The limit of lower
    bounds: McAllester & Stratos (2020), "Formal limitations on the measurement of mutual
    information", AISTATS.

Example:
    >>> import numpy as np
    >>> from mibounds.estimation.pipeline import run
    >>> from mibounds.estimation.settings import EstimatorSettings
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 1))
    >>> fitted = run(x, x + rng.normal(size=(2000, 1)), EstimatorSettings(max_steps=200, random_state=0, progress=False))
    >>> fitted.result.method, fitted.plan.num_folds
    ('log-ratio', 5)
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mibounds.estimation._runtime import (
    check_estimate_memory,
    resolve_device,
    resolve_seed,
    scaler_for,
    torch_threads,
)
from mibounds.estimation.data import as_array, check_pair, pair_rows
from mibounds.estimation.diagnostics import (
    LARGE_FIT_PENALTY,
    NON_GAUSSIAN_Z,
    check_fold_sizes,
    check_scaled,
    constant_column_notes,
    deterministic_notes,
    fit_penalty_notes,
    kurtosis_z,
    whole_number_notes,
)
from mibounds.estimation.diagnostics import diagnose as diagnose_notes
from mibounds.estimation.discrete import MAX_AUTO_CLASSES, categorical_sides, fit_categorical, float_label_notes
from mibounds.estimation.fold_critics import (
    CHEAP_SCORES,
    GaussianValidation,
    build_fold_critic,
    fit_rows,
    gaussian_validation_values,
)
from mibounds.estimation.gaussian_fits import choose_rank, fold_moments
from mibounds.estimation.heldout import (
    EVALUATION_BLOCK,
    HeldoutEstimate,
    HeldoutValues,
    gaussian_fit_penalty,
    normalized_interval,
)
from mibounds.estimation.heldout import evaluate as evaluate_folds
from mibounds.estimation.member_groups import thread_plan
from mibounds.estimation.model_check import check_model, shown_unnormalized
from mibounds.estimation.reduction import Reduced, reduce_side
from mibounds.estimation.result import EstimateResult
from mibounds.estimation.scaling import Standardizer
from mibounds.estimation.settings import DEFAULT_PATIENCE, NON_GAUSSIAN_PATIENCE, EstimatorSettings
from mibounds.estimation.training import FoldCritic, FoldPlan, TrainingOutcome, fold_plan, train
from mibounds.estimation.uncertainty import Interval, crossfit_interval, heldout_interval
from mibounds.estimation.unmixing import prefer_unmixed, unmix_side

__all__ = [
    "FittedEstimate",
    "PreparedData",
    "TrainedCritics",
    "ValidData",
    "assemble",
    "diagnose",
    "evaluate",
    "fit",
    "prepare",
    "run",
    "validate",
]

# Rows per block for critics that evaluate a network on every pair.
_PAIRWISE_BLOCK = 128
# Most columns (x and y together) for which the joint Gaussianity of the normal scores is tested.
_MAX_KURTOSIS_COLUMNS = 1000
_KURTOSIS_ROWS = 1 << 17


@dataclass(frozen=True)
class FittedEstimate:
    """What one estimate leaves: the result and the fitted parts behind it.

    Attributes:
        result: The :class:`EstimateResult`.
        model: The trained fold critics (:class:`~mibounds.estimation.training.FoldCritic`), the
            fold classifiers of a categorical side, or None (two categorical sides).
        plan: The fold plan (None for categories).
        heldout: The per-row held-out values (None for categories).
        x_scaler, y_scaler: The per-column maps applied before the critics (None for a
            categorical side).
        device: Where the critics live.
        n_features: Columns of x and y (None for categories).
    """

    result: EstimateResult
    model: Any
    plan: FoldPlan | None
    heldout: HeldoutValues | None
    x_scaler: Any
    y_scaler: Any
    device: torch.device
    n_features: tuple[int, int] | None = None


@dataclass(frozen=True)
class ValidData:
    """Stage 1: the inputs as float arrays, their column names, and what they say already."""

    x: np.ndarray
    y: np.ndarray
    x_columns: list[str]
    y_columns: list[str]
    notes: list[str]


@dataclass(frozen=True)
class PreparedData:
    """Stage 2: the scaled rows on the device, the folds, and the training choices made from the data."""

    x: torch.Tensor
    y: torch.Tensor
    x_scaler: Any
    y_scaler: Any
    plan: FoldPlan
    seed: int
    device: torch.device
    batch_size: int
    patience: int
    kurtosis_z: float | None
    notes: list[str]
    groups: int = 1  # groups of fold members trained and evaluated at once (one thread each)
    min_patience: int | None = None  # fewest checks without improvement once the critic improved
    unmixed: bool = False  # whether the columns were unmixed (:mod:`~mibounds.estimation.unmixing`)
    # The columns of each side the critics see where a side was reduced to its principal
    # components (:mod:`~mibounds.estimation.reduction`), else None.
    reduced: tuple[int, int] | None = None
    # The full-rank Gaussian critics of the chosen columns on their validation folds, where the
    # unmixing compared them (fit's check of the Gaussian critic reuses them).
    gaussian_validation: GaussianValidation | None = None


@dataclass(frozen=True)
class TrainedCritics:
    """Stage 3: the trained fold critics, their name, how training went, and what was decided."""

    model: FoldCritic
    critic: str
    outcome: TrainingOutcome
    notes: list[str]
    gaussian_rank: int | None = None  # canonical pairs the Gaussian critics keep (None: all)


def run(x: Any, y: Any, settings: EstimatorSettings) -> FittedEstimate:
    """Estimate I(X; Y) from paired rows: the stages of the module docstring, in order.

    Args:
        x: ``[n, dx]`` samples (NumPy, torch, pandas; 1-d = one feature).
        y: ``[n, dy]`` samples, row i paired with row i of x.
        settings: The checked options.

    Returns:
        The :class:`FittedEstimate`. Its ``result.warnings`` are not issued here: each face issues
        them, pointing at its caller.
    """
    start = time.perf_counter()
    (x, y), pairing = pair_rows([x, y], ["x", "y"])
    groups, threads = thread_plan(settings.threads, settings.num_folds)
    with torch_threads(threads):
        sides = categorical_sides(x, y, settings.discrete)
        if any(sides):
            return _categorical(x, y, sides, settings, start, pairing)
        data = validate(x, y, settings)
        data = dataclasses.replace(data, notes=pairing + data.notes)
        prepared = prepare(data, settings, groups)
        trained = fit(prepared, settings)
        held = evaluate(prepared, trained, settings)
        notes = diagnose(data, prepared, trained, held, settings)
        result = assemble(prepared, trained, held, notes, settings, time.perf_counter() - start)
    return FittedEstimate(
        result,
        trained.model,
        prepared.plan,
        held.values,
        prepared.x_scaler,
        prepared.y_scaler,
        prepared.device,
        (data.x.shape[1], data.y.shape[1]),
    )


def validate(x: Any, y: Any, settings: EstimatorSettings) -> ValidData:
    """Stage 1: float arrays with one row per sample and enough rows for the folds."""
    xa, x_columns = as_array(x, "x")
    ya, y_columns = as_array(y, "y")
    n = check_pair(xa, ya)
    check_fold_sizes(n, settings.num_folds)
    check_estimate_memory(n, xa.shape[1] + ya.shape[1], "x and y")
    notes = constant_column_notes(xa, x_columns, "x") + constant_column_notes(ya, y_columns, "y")
    if settings.discrete == "auto":  # "none" says the numbers are numbers
        notes += whole_number_notes(xa, x_columns, "x", MAX_AUTO_CLASSES)
        notes += whole_number_notes(ya, y_columns, "y", MAX_AUTO_CLASSES)
    return ValidData(xa, ya, x_columns, y_columns, notes)


def prepare(data: ValidData, settings: EstimatorSettings, groups: int = 1) -> PreparedData:
    """Stage 2: per-column scaling, the fold plan, the batch size and the patience (and ``groups``
    of fold members at once on a CPU: :mod:`~mibounds.estimation.member_groups`)."""
    n = len(data.x)
    batch_size = settings.batch_size_for(n // settings.num_folds)
    seed = resolve_seed(settings.random_state)
    plan = fold_plan(n, settings.num_folds, np.random.default_rng(seed))
    scaler = scaler_for(settings.standardize)
    x_scaler: Any
    y_scaler: Any
    if scaler is None:  # the values as given: checked in float64, where a std far from 1 is named
        x_scaler, y_scaler = Standardizer.identity(data.x.shape[1]), Standardizer.identity(data.y.shape[1])
        xs, ys = data.x, data.y
    else:  # scaled straight into the critics' float32: no float64 copy of the data
        x_scaler, xs = scaler.fit_transform(data.x, np.float32)
        y_scaler, ys = scaler.fit_transform(data.y, np.float32)
    check_scaled(xs, data.x_columns, "x", settings.standardize)
    check_scaled(ys, data.y_columns, "y", settings.standardize)
    notes = deterministic_notes(xs, ys, data.x_columns, data.y_columns)  # of the columns as given
    x_values, y_values, x_lead, y_lead = data.x, data.y, None, None  # what the unmixing sees
    if (
        scaler is not None
        and settings.reduce == "auto"
        and gaussian_fit_penalty(xs.shape[1], ys.shape[1], fit_rows(plan)) > LARGE_FIT_PENALTY
    ):
        x_values, xs, x_scaler, x_lead = reduce_side(x_values, xs, scaler, x_scaler, [seed, 2])
        y_values, ys, y_scaler, y_lead = reduce_side(y_values, ys, scaler, y_scaler, [seed, 3])
    device = resolve_device(settings.device)
    # A random subset above _KURTOSIS_ROWS rows: the test only picks the patience, and at 131,072
    # rows a kurtosis 1 % above a Gaussian's already gives z > 6 (4 or more columns).
    sample = slice(None) if n <= _KURTOSIS_ROWS else np.sort(np.concatenate(plan.folds)[:_KURTOSIS_ROWS])
    z = _joint_kurtosis_z(xs[sample], ys[sample])
    unmixed, validation = False, None
    if scaler is not None and _try_unmixing(settings, z, x_values.shape[1], y_values.shape[1], plan):
        x_map, xu = unmix_side(x_values, scaler, [seed, 0])
        y_map, yu = unmix_side(y_values, scaler, [seed, 1])
        unmixed, validation = _choose_unmixed(xs, ys, xu, yu, plan, settings, groups)
        if unmixed:
            x_scaler, xs, y_scaler, ys = x_map, xu, y_map, yu
            z = _joint_kurtosis_z(xs[sample], ys[sample])  # the patience follows what the critics see
    x_scaler = x_scaler if x_lead is None else Reduced(*x_lead, x_scaler)
    y_scaler = y_scaler if y_lead is None else Reduced(*y_lead, y_scaler)
    chosen = NON_GAUSSIAN_PATIENCE if z is not None and abs(z) > NON_GAUSSIAN_Z else DEFAULT_PATIENCE
    return PreparedData(
        x=torch.as_tensor(xs, dtype=torch.float32, device=device),
        y=torch.as_tensor(ys, dtype=torch.float32, device=device),
        x_scaler=x_scaler,
        y_scaler=y_scaler,
        plan=plan,
        seed=seed,
        device=device,
        batch_size=batch_size,
        patience=settings.patience or chosen,
        # A data-chosen long patience covers the residual's slow start; once it has improved, a
        # run waits as long again as its best took (a setting is kept as given).
        min_patience=DEFAULT_PATIENCE if settings.patience is None and chosen > DEFAULT_PATIENCE else None,
        kurtosis_z=z,
        unmixed=unmixed,
        reduced=None if x_lead is None and y_lead is None else (xs.shape[1], ys.shape[1]),
        gaussian_validation=validation if device.type == "cpu" else None,  # elsewhere fit scores on the device
        notes=notes,
        groups=groups if device.type == "cpu" else 1,  # a GPU runs the whole stack in one pass
    )


def fit(prepared: PreparedData, settings: EstimatorSettings) -> TrainedCritics:
    """Stage 3: build the fold critics (seeded, leaving the global RNG as it was) and train them.

    The Gaussian critic is left out when rows it never saw show it is no density ratio
    (:func:`~mibounds.estimation.fold_critics.gaussian_validation_values` pooled above log(1 / alpha)):
    the learned critic then starts from nothing instead of from a wrong model.
    """
    notes, rank, moments, rank_note, fits = [], None, None, None, None
    x, y, plan = prepared.x, prepared.y, prepared.plan
    if settings.gaussian:
        moments = fold_moments(x, y, plan)
        if gaussian_fit_penalty(x.shape[1], y.shape[1], fit_rows(plan)) > LARGE_FIT_PENALTY:
            rank, fits, rank_note = _gaussian_rank(moments, x, y, plan, learned=settings.critic is not None)
            if rank == 0 and settings.critic is not None:  # a critic of no pair is no critic: leave it out
                settings = settings.replace(gaussian=False)
    if settings.gaussian and settings.critic is not None:
        validation = prepared.gaussian_validation  # full rank: no canonical pairs were dropped above
        if validation is None or rank is not None:
            validation = gaussian_validation_values(x, y, plan, rank, moments, fits, prepared.groups)
        log_z = validation.pooled_log_normalizer
        if shown_unnormalized(log_z, settings.confidence):
            settings = settings.replace(gaussian=False)
            notes.append(
                f"the Gaussian critic was left out: on validation rows it never saw, its density ratio averages "
                f"e^{log_z:.1f} over independent pairs where a density ratio's averages 1 (Markov's inequality "
                f"rejects it at {100 * (1 - settings.confidence):g} %), so the rows are far from jointly Gaussian "
                "after normal scores (e.g. on a low-dimensional manifold of a wide space); the learned critic "
                "models the dependence alone"
            )
    if rank_note is not None:
        notes.append(rank_note)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(prepared.seed)
        model, critic = build_fold_critic(settings, x, y, plan, rank, moments)
    model.to(prepared.device)
    outcome = train(
        model,
        prepared.x,
        prepared.y,
        prepared.plan,
        batch_size=prepared.batch_size,
        patience=prepared.patience,
        min_patience=prepared.min_patience,
        generator=torch.Generator().manual_seed(prepared.seed),
        groups=prepared.groups,
        **settings.training_options(),
    )
    return TrainedCritics(model, critic, outcome, notes, rank if settings.gaussian else None)


def _gaussian_rank(
    moments: list[Any], x: torch.Tensor, y: torch.Tensor, plan: FoldPlan, learned: bool
) -> tuple[int, list[Any], str | None]:
    """The canonical pairs the Gaussian critics keep where their full fit has too many parameters
    for the rows (:mod:`~mibounds.estimation.gaussian_fits`), each member's critic of its training
    folds at that rank, and a note when pairs were dropped (at rank 0 with a ``learned`` critic
    beside it, the Gaussian critic is left out)."""
    rank, analyses = choose_rank(moments, x, y, plan)
    full = min(x.shape[1], y.shape[1])
    note = None
    shape = f"with {x.shape[1]} x {y.shape[1]} columns and {fit_rows(plan)} rows a fold"
    if rank == 0 and learned:
        note = (
            f"the Gaussian critic was left out: {shape}, no canonical pair's held-out log ratio covered its "
            "fitting penalty (the correlations are within the noise of this many rows), so the learned critic "
            "models the dependence alone, and dependence spread thinly over many columns may go unseen (the "
            "estimate may be low); more rows resolve more pairs"
        )
    elif rank < full:
        note = (
            f"the Gaussian critic keeps {rank} of {full} canonical pairs: {shape}, the other pairs' held-out log "
            "ratio did not cover their fitting penalty (their correlations are within the noise of this many "
            "rows), so dependence spread thinly over many columns goes unseen and the estimate may be low; more "
            "rows resolve more pairs"
        )
    return rank, [analysis.critic(rank) for analysis in analyses], note


def evaluate(prepared: PreparedData, trained: TrainedCritics, settings: EstimatorSettings) -> HeldoutEstimate:
    """Stage 4: the held-out estimate with its interval, and the certified lower bound."""
    model, plan, batch_size = trained.model, prepared.plan, prepared.batch_size
    cheap = settings.critic is None or (isinstance(settings.critic, str) and settings.critic in CHEAP_SCORES)
    with torch.random.fork_rng(devices=[]):  # exporting a stacked member initializes a fresh module
        held = evaluate_folds(
            model,
            prepared.x,
            prepared.y,
            plan,
            batch_size,
            EVALUATION_BLOCK if cheap else _PAIRWISE_BLOCK,
            groups=prepared.groups,
        )
    correction = 0.0
    if model.base is not None and held.log_ratio is not None:  # the fitted Gaussian's held-out bias
        correction = gaussian_fit_penalty(
            prepared.x.shape[1], prepared.y.shape[1], fit_rows(plan), trained.gaussian_rank
        )
        held = dataclasses.replace(
            held,
            log_ratio=held.log_ratio + correction,
            train_log_ratio=None if held.train_log_ratio is None else held.train_log_ratio - correction,
            log_normalizer=None if held.log_normalizer is None else held.log_normalizer + correction,
        )
    interval, method = _interval(held, settings.confidence, model.bound.name)
    certified = crossfit_interval(held.infonce, held.infonce_folds, settings.confidence)
    check = None
    if held.log_normalizer is not None and held.normalizer_ess is not None:
        members = len(held.log_normalizer)
        check = check_model(
            interval,
            certified,
            normalized_interval(held, settings.confidence),
            log_normalizer=float(np.logaddexp.reduce(held.log_normalizer) - np.log(members)),
            effective_pairs=float(held.normalizer_ess.min()),
        )
        interval = check.interval
    return HeldoutEstimate(
        values=held,
        interval=interval,
        method=method,
        certified=certified,
        ceiling=None if method == "log-ratio" else model.bound.ceiling(batch_size),
        correction=correction,
        check=check,
    )


def diagnose(
    data: ValidData,
    prepared: PreparedData,
    trained: TrainedCritics,
    held: HeldoutEstimate,
    settings: EstimatorSettings,
) -> list[str]:
    """Stage 5: every reason to distrust the estimate, one sentence each."""
    gaussian_only = trained.model.base is not None and trained.outcome.best_step == 0
    return [
        *data.notes,
        *prepared.notes,
        *trained.notes,
        *diagnose_notes(
            held,
            trained.outcome,
            batch_size=prepared.batch_size,
            bound=trained.model.bound.name,
            gaussian_only_z=prepared.kurtosis_z if gaussian_only else None,
        ),
        *fit_penalty_notes(held.correction, prepared.x.shape[1], prepared.y.shape[1], fit_rows(prepared.plan)),
    ]


def assemble(
    prepared: PreparedData,
    trained: TrainedCritics,
    held: HeldoutEstimate,
    notes: list[str],
    settings: EstimatorSettings,
    seconds: float,
) -> EstimateResult:
    """Stage 6: the :class:`EstimateResult`."""
    model, outcome, interval = trained.model, trained.outcome, held.interval
    return EstimateResult(
        estimate=interval.estimate,
        ci_low=interval.low,
        ci_high=interval.high,
        stderr=interval.stderr,
        confidence=interval.confidence,
        lower_bound=held.lower_bound,
        lower_bound_value=held.certified.estimate,
        lower_bound_ceiling=held.values.infonce_ceiling,
        method=held.method,
        bound=model.bound.name,
        critic=trained.critic,
        gaussian_mi=None if model.base is None else float(np.mean(model.base.mutual_information)),
        num_folds=prepared.plan.num_folds,
        n=len(prepared.x),
        batch_size=prepared.batch_size,
        steps=outcome.steps,
        best_step=outcome.best_step,
        stopped=outcome.stopped,
        seconds=seconds,
        device=str(prepared.device),
        random_state=prepared.seed,
        ceiling=held.ceiling,
        generalization_gap=interval.generalization_gap,
        bias_correction=held.correction,
        patience=outcome.patience,
        unmixed=prepared.unmixed,
        reduced=prepared.reduced,
        threads=prepared.groups * torch.get_num_threads(),
        log_normalizer=None if held.check is None else held.check.log_normalizer,
        normalizer_pairs=None if held.check is None else held.check.effective_pairs,
        history=outcome.history,
        warnings=notes,
    )


def _categorical(
    x: Any, y: Any, sides: tuple[bool, bool], settings: EstimatorSettings, start: float, pairing: list[str]
) -> FittedEstimate:
    """The path of a categorical side (:func:`~mibounds.estimation.discrete.fit_categorical`)."""
    seed = resolve_seed(settings.random_state)
    device = resolve_device(settings.device)
    result, model, scaler = fit_categorical(x, y, sides, settings=settings, seed=seed, device=device)
    notes = pairing + float_label_notes(x, y, sides, settings.discrete) + result.warnings
    result = dataclasses.replace(result, seconds=time.perf_counter() - start, warnings=notes)
    return FittedEstimate(result, model, None, None, scaler if sides[1] else None, scaler if sides[0] else None, device)


def _interval(held: HeldoutValues, confidence: float, bound: str) -> tuple[Interval, str]:
    """The estimate with its interval, and how it was made (``"log-ratio"`` or ``"bound"``)."""
    if held.log_ratio is not None:
        return crossfit_interval(held.log_ratio, held.log_ratio_fold, confidence, held.train_log_ratio), "log-ratio"
    if len(held.batch_values) < 2:
        raise ValueError(
            f"the held-out folds hold fewer than 2 batches for the {bound} bound's value; pass a smaller "
            "batch_size or more rows"
        )
    return heldout_interval(held.batch_values, [held.train_batch_value], confidence), "bound"


def _joint_kurtosis_z(xs: np.ndarray, ys: np.ndarray) -> float | None:
    """Mardia's kurtosis z of the scaled rows of x and y together, or None where the test says little.

    The test needs many more rows than columns, and costs O(n p^2 + p^3): with more than
    :data:`_MAX_KURTOSIS_COLUMNS` columns, or fewer than 10 rows a column, it is skipped.
    """
    rows, columns = xs.shape[0], xs.shape[1] + ys.shape[1]
    if columns > _MAX_KURTOSIS_COLUMNS or rows < 10 * columns:
        return None
    return kurtosis_z(np.hstack([xs, ys]).astype(np.float64, copy=False))


def _try_unmixing(settings: EstimatorSettings, z: float | None, dim_x: int, dim_y: int, plan: FoldPlan) -> bool:
    """Whether to compare the unmixed columns with the columns as given (``unmix="auto"``): where
    the scaled rows fail Mardia's test (so the Gaussian critic is not already exact) and the
    Gaussian critic keeps every canonical pair (its full fit is well determined by the rows, and
    the unmixing's d^2 parameters with it)."""
    if settings.unmix == "never" or max(dim_x, dim_y) < 2:
        return False
    if settings.unmix == "always":
        return True
    return (
        settings.gaussian
        and z is not None
        and abs(z) > NON_GAUSSIAN_Z
        and gaussian_fit_penalty(dim_x, dim_y, fit_rows(plan)) <= LARGE_FIT_PENALTY
    )


def _choose_unmixed(
    xs: np.ndarray,
    ys: np.ndarray,
    xu: np.ndarray,
    yu: np.ndarray,
    plan: FoldPlan,
    settings: EstimatorSettings,
    groups: int,
) -> tuple[bool, GaussianValidation | None]:
    """Whether to keep the unmixed scores ``xu, yu`` over ``xs, ys``
    (:func:`~mibounds.estimation.unmixing.prefer_unmixed`), and the chosen columns' Gaussian
    validation values (None with ``unmix="always"``, which compares nothing)."""
    if settings.unmix == "always":
        return True, None
    plain = gaussian_validation_values(torch.from_numpy(xs), torch.from_numpy(ys), plan, groups=groups)
    mixed = gaussian_validation_values(torch.from_numpy(xu), torch.from_numpy(yu), plan, groups=groups)
    training_rows = min(len(plan.training(m)) for m in range(plan.num_folds))
    unmixed = prefer_unmixed(
        plain, mixed, settings.confidence, gaussian_fit_penalty(xs.shape[1], ys.shape[1], training_rows)
    )
    return unmixed, mixed if unmixed else plain
