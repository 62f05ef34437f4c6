"""Categorical x or y: the Barber–Agakov bound with a cross-fitted classifier, or the plug-in
estimate when both are categorical.

Which variables are categories (``discrete="auto"``): booleans, strings and other objects, pandas
categoricals, and columns of at most :data:`MAX_AUTO_CLASSES` distinct whole numbers, whether
stored as integers or as floats (a variable with atoms has the discrete MI, which a density-ratio
critic of continuous variables cannot model; the result says when floats were read as labels).
Pass ``discrete="none"`` to have them treated as numbers.

- **One side categorical** (say Y, with C classes), the other continuous: the Barber–Agakov bound

  .. math::
      I(X; Y) = H(Y) - H(Y \\mid X) \\ge H(Y) + \\mathbb E_{p(x,y)} \\log q(y \\mid x)

  for any classifier q. Here q is an MLP trained by cross entropy, cross-fitted exactly like the
  estimator's critics (critic m trains on F - 2 folds, is early-stopped on fold m + 1 and scores
  fold m). Row i, held out from classifier m, gets the value
  :math:`\\log q_m(y_i \\mid x_i) - \\log \\hat p_m(y_i)`, where :math:`\\hat p_m` are the class
  frequencies of the rows classifier m trained on, smoothed so that a class it never saw keeps
  some mass (Krichevsky–Trofimov: :math:`\\hat p_m(c) = (n_c + 1/2) / (n_m + C/2)`); its logits
  start at :math:`\\log \\hat p_m`, so a classifier that learned nothing scores exactly 0. The values
  average to the estimate, :math:`\\mathrm{CE}(\\hat p) - \\mathrm{CE}(q)` on held-out rows
  (:math:`I - \\mathrm{KL}(p(y \\mid x) \\| q) + \\mathrm{KL}(p(y) \\| \\hat p)`: the marginal model's
  excess, shared by q, which starts from it, largely cancels), and give its cross-fitted
  interval; no row sees its own label in a prior, and no entropy correction is added to the
  rows. The ``ceiling`` is the plug-in entropy of the labels with the Miller–Madow correction
  (C - 1) / (2n).
- **Both categorical**: the MI of the contingency table, its bias controlled when the table has
  as many cells as rows (:mod:`~mibounds.estimation.contingency`). :func:`plugin_estimate`, the
  plug-in less the Miller–Madow term :math:`(K_{xy} - K_x - K_y + 1) / (2n)`, is kept as the
  statistic of the permutation test of two categorical variables.

References:
    Barber & Agakov (2003), "The IM algorithm: a variational approach to information
    maximization", NeurIPS. Miller (1955), "Note on the bias of information estimates"; Paninski
    (2003), "Estimation of entropy and mutual information", Neural Computation 15.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mibounds.critics.stacked import stacked_mlp
from mibounds.estimation._runtime import scaler_for
from mibounds.estimation.contingency import contingency_estimate
from mibounds.estimation.data import as_array, is_pandas
from mibounds.estimation.diagnostics import check_fold_sizes
from mibounds.estimation.result import EstimateResult
from mibounds.estimation.settings import DEFAULT_CRITIC_KWARGS, DEFAULT_PATIENCE, EstimatorSettings
from mibounds.estimation.training import FoldPlan, TrainingOutcome, fold_plan, train
from mibounds.estimation.uncertainty import (
    Interval,
    crossfit_interval,
    one_sided_lower,
    student_t_quantile,
)
from mibounds.validation import check_finite_rows

__all__ = [
    "DISCRETE_CHOICES",
    "MAX_AUTO_CLASSES",
    "FoldClassifier",
    "LabelledValues",
    "as_labels",
    "categorical_sides",
    "classifier_bound",
    "fit_categorical",
    "float_label_notes",
    "is_categorical",
    "label_entropy",
    "plugin_estimate",
    "training_log_prior",
]

#: Integer columns with at most this many distinct values are categories under ``discrete="auto"``.
MAX_AUTO_CLASSES = 20
#: Values of ``discrete``: which sides are categories.
DISCRETE_CHOICES = ("auto", "none", "x", "y", "both")


def is_categorical(values: Any) -> bool:
    """Whether ``values`` look like category labels (see the module docstring for the rule)."""
    if is_pandas(values):
        frame = values if hasattr(values, "columns") else values.to_frame()
        for dtype, column in zip(frame.dtypes, frame.columns, strict=True):
            kind = getattr(dtype, "kind", "O")
            if kind in "OSUb" or str(dtype) in ("category", "string", "boolean"):
                continue
            if kind in "iu" and frame[column].nunique() <= MAX_AUTO_CLASSES:
                continue
            if kind == "f" and _few_whole_numbers(frame[column].to_numpy()):
                continue
            return False
        return True
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=object) if isinstance(values, (list, tuple)) else np.asarray(values)
    if array.dtype.kind == "O":  # a list: numbers stay numbers, anything else is a label
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            return True
        return False
    if array.dtype.kind in "bSU":
        return True
    if array.dtype.kind in "iu" and array.size:
        columns = array.reshape(len(array), -1).T
        return all(len(np.unique(column)) <= MAX_AUTO_CLASSES for column in columns)
    if array.dtype.kind == "f" and array.size:
        return all(_few_whole_numbers(column) for column in array.reshape(len(array), -1).T)
    return False


def _few_whole_numbers(column: np.ndarray) -> bool:
    """A float column of 2 to :data:`MAX_AUTO_CLASSES` distinct whole numbers: labels (or counts)
    written as floats, as they are read from a CSV file or a float array. Such a variable has atoms,
    which a density-ratio critic of continuous variables cannot model; its MI is the discrete one."""
    distinct = np.unique(column)
    return (
        2 <= len(distinct) <= MAX_AUTO_CLASSES
        and bool(np.isfinite(distinct).all())
        and bool(np.array_equal(distinct, np.round(distinct)))
    )


def float_label_notes(x: Any, y: Any, sides: tuple[bool, bool], discrete: str) -> list[str]:
    """Say which sides ``discrete="auto"`` read as labels from float values (whole numbers)."""
    notes = []
    for name, values, side in (("x", x, sides[0]), ("y", y, sides[1])):
        if is_pandas(values):  # a DataFrame's dtypes, or a Series' one
            dtypes = list(values.dtypes) if hasattr(values, "columns") else [values.dtype]
            floats = "f" in [getattr(d, "kind", "O") for d in dtypes]
        else:
            floats = np.asarray(values).dtype.kind == "f"
        if discrete == "auto" and side and floats:
            notes.append(
                f"{name} holds only whole numbers, at most {MAX_AUTO_CLASSES} distinct values per column, so it was "
                f"read as class labels (the MI of a variable with atoms is the discrete one); pass discrete='none' "
                "to treat them as numbers"
            )
    return notes


def categorical_sides(x: Any, y: Any, discrete: str) -> tuple[bool, bool]:
    """``(x is categorical, y is categorical)`` for a ``discrete`` setting."""
    if discrete not in DISCRETE_CHOICES:
        raise ValueError(f"discrete must be one of {', '.join(map(repr, DISCRETE_CHOICES))}, got {discrete!r}")
    if discrete == "auto":
        return is_categorical(x), is_categorical(y)
    return discrete in ("x", "both"), discrete in ("y", "both")


def as_labels(values: Any, name: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes ``[n]`` of the rows of a categorical variable (a row of several columns is one
    label), and the class names in sorted order (code c is the c-th class).

    Raises:
        ValueError: For missing values, non-integer numbers (a continuous variable), or one class.
    """
    if hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy(dtype=object)
    elif hasattr(values, "detach") and hasattr(values, "cpu"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=object)
    if array.ndim == 0 or array.ndim > 2 or array.size == 0:
        raise ValueError(f"{name} must hold one label (or one row of labels) per sample, got shape {array.shape}")
    rows = array.reshape(len(array), -1)
    for value in rows.ravel():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise ValueError(
                f"{name} has missing labels (None or NaN); drop those rows or give them a class of their own"
            )
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            raise ValueError(
                f"{name} holds non-integer numbers (e.g. {value:g}) but is treated as categories; categories are "
                f"labels (integers, strings, booleans): pass discrete='auto' or 'none' to treat {name} as numbers"
            )
    keys = [tuple(row) for row in rows.tolist()]
    try:  # classes in their natural order (0, 1, 2 or "a", "b"), so codes of a subset line up
        distinct = sorted(set(keys))
    except TypeError:  # labels of mixed types
        distinct = sorted(set(keys), key=repr)
    mapping = {key: code for code, key in enumerate(distinct)}
    codes = np.fromiter((mapping[key] for key in keys), dtype=np.int64, count=len(keys))
    classes = [key[0] if len(key) == 1 else key for key in distinct]
    if len(classes) > max(MAX_AUTO_CLASSES, len(codes) // 2):
        raise ValueError(
            f"{name} has {len(classes)} classes in {len(codes)} rows: too many to be categories (an identifier, or a "
            f"continuous variable?); pass discrete='none' to treat {name} as numbers, or merge rare classes"
        )
    if len(classes) < 2:
        raise ValueError(
            f"{name} has a single class ({classes[0]!r}): a constant shares no information with anything; "
            "pass a variable with at least two classes"
        )
    return codes, [str(c) for c in classes]


def training_log_prior(codes: np.ndarray, plan: FoldPlan, num_classes: int) -> np.ndarray:
    """``[F, C]`` log class frequencies of each fold classifier's training rows, smoothed.

    .. math::
        \\log \\hat p_m(c) = \\log \\frac{n_{m,c} + 1/2}{n_m + C/2}

    (Krichevsky–Trofimov), with :math:`n_{m,c}` the rows of class c among the n_m rows member m
    trains on: a class those rows never show keeps the mass 1 / (2 n_m + C), as any label can
    turn up in a row the classifier never saw.

    Example:
        >>> import numpy as np
        >>> from mibounds.estimation.training import fold_plan
        >>> plan = fold_plan(10, 5, np.random.default_rng(0))
        >>> prior = training_log_prior(np.arange(10) % 2, plan, 2)
        >>> prior.shape, bool(np.allclose(np.exp(prior).sum(1), 1.0))
        ((5, 2), True)
    """
    counts = np.stack([np.bincount(codes[plan.training(m)], minlength=num_classes) for m in range(plan.num_folds)])
    return np.log((counts + 0.5) / (counts.sum(1, keepdims=True) + num_classes / 2))


class FoldClassifier(nn.Module):
    """F classifiers q_m(y | x) in one stack, shaped for :func:`~mibounds.estimation.training.train`.

    Member m's logits are ``net_m(x) + log p̂_m(y)`` with the last layer zeroed, so every member
    starts at the class frequencies of its own training rows (a held-out value of 0) and learns
    what x adds.

    Args:
        num_members: F.
        dim_x: Features.
        log_prior: ``[F, C]`` log class frequencies of each member's training rows
            (:func:`training_log_prior`).
        hidden_dim, num_layers, activation: The MLP (as the estimator's residual critic).
    """

    def __init__(
        self,
        num_members: int,
        dim_x: int,
        log_prior: Tensor,
        hidden_dim: int = 128,
        num_layers: int = 1,
        activation: str = "softplus",
    ) -> None:
        super().__init__()
        self.num_members = num_members
        self.net = stacked_mlp(num_members, dim_x, hidden_dim, log_prior.shape[-1], num_layers, activation)
        last: Any = self.net[-1]  # a StackedLinear
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        self.register_buffer("log_prior", log_prior.float())

    def log_q(self, x: Tensor) -> Tensor:
        """``x [K, d]`` or ``[M, K, d]`` -> ``log q_m(c | x) [M, K, C]``."""
        log_prior: Tensor = self.log_prior  # type: ignore[assignment]
        return F.log_softmax(self.net(x) + log_prior[:, None, :], dim=-1)

    def member_values(self, x: Tensor, y: Tensor, objective: bool = True) -> Tensor:
        """Each member's mean ``log q_m(y | x)`` on its batch ``[M, K]`` (y holds class codes)."""
        return self.log_q(x).gather(-1, y.long()).squeeze(-1).mean(-1)


@dataclass
class LabelledValues:
    """Held-out per-row values of a classifier bound and how its training went."""

    values: np.ndarray
    folds: np.ndarray
    train_mean: float
    entropy: float
    outcome: TrainingOutcome
    model: FoldClassifier


def classifier_bound(
    features: Tensor,
    codes: np.ndarray,
    plan: FoldPlan,
    settings: EstimatorSettings,
    *,
    batch_size: int,
    generator: torch.Generator,
) -> LabelledValues:
    """Train the fold classifiers and return the Barber–Agakov per-row values (see the module docstring).

    Args:
        features: Scaled continuous side ``[n, d]`` on the training device.
        codes: ``[n]`` class codes of the categorical side.
        plan: The fold plan.
        settings: The estimator's settings (training options, patience, critic options).
        batch_size: K.
        generator: CPU generator for the batches.
    """
    num_classes = int(codes.max()) + 1
    log_prior = training_log_prior(codes, plan, num_classes)
    options = {**DEFAULT_CRITIC_KWARGS["separable"], **(settings.critic_kwargs or {})}
    model = FoldClassifier(
        plan.num_folds,
        features.shape[1],
        torch.as_tensor(log_prior),
        **{k: options[k] for k in ("hidden_dim", "num_layers", "activation") if k in options},
    )
    model.to(features.device)
    labels = torch.as_tensor(codes, device=features.device)[:, None]
    outcome = train(
        model,  # type: ignore[arg-type]
        features,
        labels,
        plan,
        batch_size=batch_size,
        patience=settings.patience or DEFAULT_PATIENCE,
        generator=generator,
        **settings.training_options(),
    )
    values: list[np.ndarray] = []
    folds: list[np.ndarray] = []
    train_values: list[np.ndarray] = []
    with torch.no_grad():
        for m in range(plan.num_folds):
            for rows, out in (
                (plan.evaluation(m), values),
                (plan.training(m)[: len(plan.evaluation(m))], train_values),
            ):
                index = torch.as_tensor(rows, device=features.device)
                log_q = model.log_q(features[index])[m].gather(-1, labels[index]).squeeze(-1).double().cpu().numpy()
                out.append(log_q - log_prior[m, codes[rows]])
            folds.append(np.full(len(plan.evaluation(m)), m))
    return LabelledValues(
        values=np.concatenate(values),
        folds=np.concatenate(folds),
        train_mean=float(np.concatenate(train_values).mean()),
        entropy=label_entropy(codes, num_classes),
        outcome=outcome,
        model=model,
    )


def label_entropy(codes: np.ndarray, num_classes: int) -> float:
    """The plug-in entropy of the labels plus the Miller–Madow term (C - 1) / (2n), in nats: the
    most a variable of these labels can share (the ``ceiling`` of the Barber–Agakov estimate)."""
    frequencies = np.bincount(codes, minlength=num_classes) / len(codes)
    frequencies = frequencies[frequencies > 0]
    return float(-(frequencies * np.log(frequencies)).sum()) + (num_classes - 1) / (2 * len(codes))


def ba_interval(held: LabelledValues, confidence: float) -> Interval:
    """The cross-fitted interval of the Barber–Agakov values (upper end capped at the entropy)."""
    interval = crossfit_interval(held.values, held.folds, confidence, held.train_mean)
    return Interval(
        interval.estimate,
        interval.stderr,
        interval.low,
        min(interval.high, held.entropy),
        interval.confidence,
        interval.num_batches,
        interval.generalization_gap,
    )


def plugin_estimate(x_codes: np.ndarray, y_codes: np.ndarray, confidence: float) -> tuple[Interval, float]:
    """Plug-in MI of two categorical variables with the Miller–Madow correction, its interval, and
    the smaller of the two plug-in entropies (the most I can be).

    Example:
        >>> import numpy as np
        >>> x = np.array([0, 0, 1, 1] * 250)
        >>> interval, ceiling = plugin_estimate(x, x, 0.95)  # y = x: I = H = log 2
        >>> round(interval.estimate - 1 / 2000, 4), round(ceiling, 4)  # Miller-Madow: (2 - 2 - 2 + 1) / (2n)
        (0.6931, 0.6931)
    """
    n = len(x_codes)
    kx, ky = int(x_codes.max()) + 1, int(y_codes.max()) + 1
    joint = np.bincount(x_codes * ky + y_codes, minlength=kx * ky).reshape(kx, ky) / n
    px, py = joint.sum(1), joint.sum(0)
    log_ratio = np.log(joint[x_codes, y_codes]) - np.log(px[x_codes]) - np.log(py[y_codes])
    occupied = int((joint > 0).sum())
    estimate = float(log_ratio.mean()) - (occupied - kx - ky + 1) / (2 * n)
    stderr = float(log_ratio.std(ddof=1)) / math.sqrt(n)
    half = student_t_quantile((1 + confidence) / 2, n - 1) * stderr
    entropy = min(float(-(px * np.log(px)).sum()), float(-(py * np.log(py)).sum()))
    return Interval(estimate, stderr, estimate - half, estimate + half, confidence, n), entropy


def fit_categorical(
    x: Any, y: Any, sides: tuple[bool, bool], *, settings: EstimatorSettings, seed: int, device: torch.device
) -> tuple[EstimateResult, FoldClassifier | None, Any]:
    """The estimate when x, y or both are categorical (the estimation pipeline's path for labels).

    Args:
        x, y: The raw inputs.
        sides: ``(x categorical, y categorical)``, at least one True.
        settings: The estimator's settings.
        seed: Seed of the folds, the initialization and the batches.
        device: Where the classifiers train.

    Returns:
        ``(result, classifiers or None, the continuous side's fitted scaler or None)``.
    """
    if all(sides):
        return _both_categorical(x, y, settings, seed, device), None, None
    # The classifier predicts the categorical side from the continuous one (MI is symmetric).
    labels, features, name, other = (x, y, "x", "y") if sides[0] else (y, x, "y", "x")
    codes, _ = as_labels(labels, name)
    values, _ = as_array(features, other)
    if len(values) != len(codes):
        sizes = {name: len(codes), other: len(values)}
        raise ValueError(f"x has {sizes['x']} rows and y has {sizes['y']}; pass one row of y per row of x")
    check_finite_rows(values, other)
    check_fold_sizes(len(codes), settings.num_folds)
    scaler = scaler_for(settings.standardize)
    fitted = scaler.fit(values) if scaler is not None else None
    scaled = fitted(values) if fitted is not None else values
    plan = fold_plan(len(codes), settings.num_folds, np.random.default_rng(seed))
    batch_size = settings.batch_size_for(len(codes) // settings.num_folds)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        features_t = torch.as_tensor(scaled, dtype=torch.float32, device=device)
        held = classifier_bound(
            features_t, codes, plan, settings, batch_size=batch_size, generator=torch.Generator().manual_seed(seed)
        )
    result = _result(
        ba_interval(held, settings.confidence),
        held.entropy,
        "barber-agakov",
        f"classifier q({name}|{other})",
        len(codes),
        seed,
        device,
        (settings.num_folds, batch_size, settings.patience or DEFAULT_PATIENCE, held.outcome),
    )
    if held.outcome.best_step == 0:
        result.warnings.append(
            f"the classifier q({name}|{other}) never beat the class frequencies on held-out rows, so the estimate is "
            "the Barber-Agakov bound of no information (about 0): no dependence was found, and the interval is that "
            "of the bound, not of I; more rows or max_steps may find a weak dependence"
        )
    result.warnings.extend(_ignored_settings_notes(settings, name))
    return result, held.model, fitted


def _both_categorical(x: Any, y: Any, settings: EstimatorSettings, seed: int, device: torch.device) -> EstimateResult:
    """Two categorical sides: the estimate of the contingency table (:mod:`~mibounds.estimation.contingency`)."""
    x_codes, _ = as_labels(x, "x")
    y_codes, _ = as_labels(y, "y")
    if len(x_codes) != len(y_codes):
        raise ValueError(f"x has {len(x_codes)} rows and y has {len(y_codes)}; pass one row of y per row of x")
    table = contingency_estimate(x_codes, y_codes, settings.confidence, seed, settings.num_folds)
    critic = "contingency table (plug-in less its value under independence, or held-out counts)"
    result = _result(table.interval, table.ceiling, "plug-in", critic, len(x_codes), seed, device)
    result = dataclasses.replace(result, lower_bound=table.lower_bound)
    result.warnings.extend(table.notes)
    result.warnings.extend(_ignored_settings_notes(settings, "x", both=True))
    return result


def _ignored_settings_notes(settings: EstimatorSettings, name: str, both: bool = False) -> list[str]:
    """A note when the bound or critic was set although a categorical side does not use them."""
    defaults = EstimatorSettings.defaults()
    if settings.bound == defaults["bound"] and settings.critic == defaults["critic"]:
        return []
    what = "the plug-in from the contingency table" if both else "the Barber-Agakov bound of a classifier"
    return [
        f"{name} is categorical, so the estimate is {what}: "
        "the bound and critic settings do not apply (pass discrete='none' to treat integer labels as numbers)"
    ]


def _result(
    interval: Interval,
    ceiling: float,
    method: str,
    critic: str,
    n: int,
    seed: int,
    device: torch.device,
    training: tuple[int, int, int, TrainingOutcome] | None = None,
) -> EstimateResult:
    """The result of a categorical path; ``training`` is ``(folds, K, patience, outcome)`` of the classifiers."""
    folds, batch_size, patience, outcome = training if training is not None else (0, 0, None, None)
    return EstimateResult(
        estimate=interval.estimate,
        ci_low=interval.low,
        ci_high=interval.high,
        stderr=interval.stderr,
        confidence=interval.confidence,
        lower_bound=one_sided_lower(interval),
        lower_bound_value=interval.estimate,
        lower_bound_ceiling=ceiling,
        method=method,
        bound="ba" if method == "barber-agakov" else "plug-in",
        critic=critic,
        gaussian_mi=None,
        num_folds=folds,
        n=n,
        batch_size=batch_size,
        steps=outcome.steps if outcome is not None else 0,
        best_step=outcome.best_step if outcome is not None else 0,
        stopped=outcome.stopped if outcome is not None else "closed_form",
        seconds=0.0,
        device=str(device),
        random_state=seed,
        ceiling=ceiling,
        generalization_gap=interval.generalization_gap,
        patience=patience,
        history=outcome.history if outcome is not None else {},
        warnings=[],
    )
