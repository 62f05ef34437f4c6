"""Every option of the estimator, declared once: :class:`EstimatorSettings`.

Each option is one field of a frozen dataclass, with its type, its default, its check and (where
it can be typed on a command line) its flag. :func:`mibounds.estimate`, :class:`MIEstimator`,
:func:`~mibounds.estimation.conditional_estimate`, :func:`~mibounds.estimation.independence_test`,
:func:`~mibounds.estimation.rank_features` and the ``mibounds estimate`` command all take their
options from here, so a new option is one field plus the code that uses it.

Example:
    >>> from mibounds.estimation.settings import EstimatorSettings, make_settings
    >>> settings = EstimatorSettings(max_steps=200)
    >>> settings.max_steps, settings.bound, settings.batch_size_for(fold_rows=60)
    (200, 'js', 60)
    >>> make_settings({"max_stepz": 200})
    Traceback (most recent call last):
        ...
    TypeError: unknown estimator option 'max_stepz'. Did you mean 'max_steps'? Valid estimator options: ...
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mibounds import critics, validation
from mibounds.estimation._runtime import check_seed
from mibounds.estimation.names import check_bound, check_critic

__all__ = [
    "API_ONLY",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CRITIC_KWARGS",
    "DEFAULT_PATIENCE",
    "NON_GAUSSIAN_PATIENCE",
    "EstimatorSettings",
    "Flag",
    "make_settings",
    "options_signature",
]

#: Pairs per training batch when ``batch_size`` is None (smaller folds get their own size).
DEFAULT_BATCH_SIZE = 128
#: Patience when the normal scores pass Mardia's test of joint Gaussianity: the Gaussian critic
#: already is the optimal critic, and the residual can only fit noise.
DEFAULT_PATIENCE = 5
#: Patience when they fail it (|z| > 4), until a check beats the Gaussian critic beyond its noise:
#: a residual that starts at zero can go 1,000-2,000 steps without a held-out gain before it learns
#: (the spiral of docs/accuracy.md). After that a run waits as long again as its best check took,
#: at least DEFAULT_PATIENCE checks and at most this many.
NON_GAUSSIAN_PATIENCE = 20
#: Options of the named residual critics unless ``critic_kwargs`` says otherwise: one hidden
#: layer of smooth (softplus) units; the Gaussian critic carries the linear part of the dependence.
DEFAULT_CRITIC_KWARGS: Mapping[str, Mapping[str, Any]] = {
    "separable": {"activation": "softplus", "num_layers": 1, "hidden_dim": 128},
    "mixture": {"activation": "softplus", "num_layers": 1, "hidden_dim": 128, "num_components": 4},
    "concat": {"activation": "softplus", "num_layers": 1, "hidden_dim": 128},
}


@dataclass(frozen=True)
class Flag:
    """How an option is typed on the command line.

    Attributes:
        name: The flag, e.g. ``"--max-steps"``.
        help: One line for ``--help`` (the default is appended).
        metavar: The value's placeholder in ``--help``.
        choices: The accepted words, if the option is one of a few.
        parse: Text to value (``int``, ``float``, or a word to its meaning); None keeps the text.
        default: The default as typed (when it differs from the field's default, e.g. ``"none"``).
        negatable: A true/false option: ``--name`` and ``--no-name``.
    """

    name: str
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    parse: Callable[[str], Any] | None = None
    default: str | None = None
    negatable: bool = False


def _option(default: Any, check: Callable[[Any], Any] | None = None, flag: Flag | None = None) -> Any:
    """A field of :class:`EstimatorSettings`: its default, its check (value -> checked value), its flag."""
    return field(default=default, metadata={"check": check, "flag": flag})


def _whole(name: str, minimum: int, why: str = "") -> Callable[[Any], int]:
    return lambda value: validation.check_int(value, name, minimum=minimum, kind="a whole number", why=why)


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _check_bound(value: Any) -> str:
    check_bound(value)
    return str(value)


def _check_critic(value: Any) -> str | nn.Module | None:
    if value is None or isinstance(value, nn.Module):
        return value
    if not isinstance(value, str):
        raise TypeError(
            f"critic must be a name ({', '.join(critics.names())}), an nn.Module or None, got {type(value).__name__}"
        )
    check_critic(value)
    return value


def _check_bool(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
        return value

    return check


def _check_weight_decay(value: Any) -> float:
    decay = float(value)
    if not (decay >= 0 and math.isfinite(decay)):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {value!r}")
    return decay


def _check_standardize(value: Any) -> bool | str:
    if value is True or value is False or value in ("quantile", "zscore"):
        return value
    raise ValueError(f"standardize must be True (or 'quantile'), 'zscore' or False, got {value!r}")


def _check_choice(name: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return str(value)

    return check


def _check_device(value: Any) -> str | torch.device:
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"device must be 'auto', 'cpu', 'cuda' or a torch.device, got {type(value).__name__}")
    if value == "auto":
        return value
    try:
        kind = torch.device(value).type
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {value!r}; use 'auto', 'cpu' or 'cuda'") from None
    if kind not in ("cpu", "cuda", "mps"):  # e.g. 'meta': tensors without values
        raise ValueError(f"device {str(value)!r} cannot hold the data to train on; use 'auto', 'cpu' or 'cuda'")
    return value


def _parse_seed(text: str) -> int:
    """``--seed``'s words as a seed; argparse puts the flag before the message."""
    import argparse

    try:
        return check_seed(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a seed is a whole number from 0 to {validation.MAX_SEED} (2**63 - 1), got {text!r}"
        ) from None


def _check_seed(value: Any) -> Any:
    if value is None or isinstance(value, np.random.Generator):
        return value
    return check_seed(value)


def _check_mapping(name: str) -> Callable[[Any], dict[str, Any] | None]:
    def check(value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict of keyword arguments or None, got {type(value).__name__}")
        return dict(value)

    return check


_DISCRETE = ("auto", "none", "x", "y", "both")
_UNMIX = ("auto", "always", "never")
_REDUCE = ("auto", "never")


@dataclass(frozen=True)
class EstimatorSettings:
    """The estimator's options, each checked when the settings are made.

    Args:
        bound: The bound that trains the critics, from :func:`~mibounds.estimation.estimator_bounds`.
            With ``js`` (default), ``smile`` or ``nwj`` the estimate is the held-out mean log density
            ratio; with the others it is the bound's held-out value at batch size K.
        critic: The learned (residual) critic: ``"mixture"`` (default: a log-mean-exp of four
            separable critics, :class:`~mibounds.critics.MixtureCritic`, which can model dependence
            that changes with the regime), ``"separable"``, ``"bilinear"``, ``"concat"``, or your
            own ``nn.Module`` mapping ``x [K, dx], y [K, dy]`` to ``scores [K, K]`` (copied, not
            changed; each fold gets a copy with fresh weights), or None for the Gaussian critic
            alone. Named critics get :data:`DEFAULT_CRITIC_KWARGS` unless ``critic_kwargs``
            overrides, and start at zero (their last layer is zeroed).
        gaussian: Add the Gaussian critic fitted in closed form to the learned one.
        num_folds: F >= 3 folds, one critic each.
        batch_size: K, pairs per training batch. None: :data:`DEFAULT_BATCH_SIZE`, or the
            smallest fold when smaller.
        max_steps: Most optimizer steps.
        learning_rate: Adam's step size.
        weight_decay: Decoupled weight decay (AdamW) of the critics' weights; 0 is plain Adam.
        patience: Validation checks without improvement before stopping. None (default): chosen
            from the data, :data:`DEFAULT_PATIENCE` when the normal scores pass Mardia's kurtosis
            test of joint Gaussianity (|z| <= 4) and :data:`NON_GAUSSIAN_PATIENCE` when they fail
            it. The long patience covers a residual's slow start: once a check has beaten the
            Gaussian critic beyond its noise (:func:`~mibounds.estimation.early_stopping.beats`), a
            best check at step b waits ``max(DEFAULT_PATIENCE, b / eval_every)`` checks (as long
            again as it took) up to the long patience. The result's
            ``patience`` says what ended training. The test is skipped, keeping the short one, with
            over 1,000 columns or under 10 rows a column, where it says little. A number is kept as
            given.
        eval_every: Steps between validation checks.
        standardize: ``True`` (or ``"quantile"``, the default): map every column through its
            empirical CDF to standard-normal scores (MI is unchanged by such increasing maps).
            ``"zscore"``: subtract the mean, divide by the std. ``False``: the values as given.
        unmix: Unmix each side's columns by independent component analysis before scaling them
            (:mod:`~mibounds.estimation.unmixing`; an invertible linear map, so the MI is
            unchanged): ``"auto"`` (default) tries it where the scaled rows fail Mardia's test
            and the Gaussian critic keeps every canonical pair, and keeps it where its Gaussian
            critic certifies more of I on validation rows; ``"always"``; ``"never"``. Not with
            ``standardize=False``.
        reduce: Where the Gaussian critic cannot fit every canonical pair of the columns (wide
            rows), project each side whose rows lie on a low-dimensional manifold onto its
            leading principal components (:mod:`~mibounds.estimation.reduction`; 2k + 1 of them
            for an estimated manifold dimension k <= 10, one-to-one on the manifold, so the MI is
            unchanged): ``"auto"`` (default) or ``"never"``; ``standardize=False`` keeps the columns.
        confidence: Coverage of the interval (two-sided) and of the lower bound (one-sided).
        device: ``"auto"`` (CUDA when available, else CPU), or a torch device.
        threads: CPU threads while estimating (the caller's torch setting is restored after).
            The fold members are trained and evaluated in groups at once, one thread and one
            torch thread a group (:mod:`~mibounds.estimation.member_groups`); threads beyond one
            per member become torch threads within the groups. None (default): two groups where
            two cores are usable, else one. The critics' products are small: torch's own threads
            would wait on each other inside every one, and lose badly to any other busy process.
            The numbers agree with one thread's to float32 rounding.
        random_state: Seed for the folds, the batches and the critics' initialization; None draws
            one (recorded in the result, so any run can be repeated).
        progress: Show a progress bar while training (on a terminal, with tqdm installed).
        critic_kwargs: Extra arguments of the named critic, e.g. ``{"hidden_dim": 256}``.
        bound_kwargs: Hyper-parameters of the bound, e.g. ``{"clip": 5.0}`` for SMILE (or name
            the bound with its parameter, ``bound="smile:5"``).
        discrete: Which variables hold categories: ``"auto"`` (booleans, strings, pandas
            categoricals and columns of at most 20 distinct whole numbers, as integers or floats),
            ``"x"``, ``"y"``,
            ``"both"`` or ``"none"``. One categorical side gets the Barber–Agakov bound of a
            cross-fitted classifier, two the estimate of their contingency table
            (:mod:`~mibounds.estimation.contingency`).

    Raises:
        TypeError / ValueError: For an option of the wrong type or value, naming the fix.
    """

    bound: str = _option(
        "js",
        _check_bound,
        Flag(
            "--bound",
            "bound that trains the critics (see 'mibounds bounds'); with js, smile or nwj the estimate is the "
            "held-out mean log density ratio, with the others the bound's held-out value at batch size K",
        ),
    )
    critic: str | nn.Module | None = _option(
        "mixture",
        _check_critic,
        Flag(
            "--critic",
            "learned critic added to the Gaussian one: mixture, separable, bilinear, concat, or none",
            parse=lambda text: None if text == "none" else text,
        ),
    )
    gaussian: bool = _option(
        True,
        _check_bool("gaussian"),
        Flag("--gaussian", "the Gaussian critic fitted in closed form under the learned one", negatable=True),
    )
    num_folds: int = _option(
        5,
        _whole("num_folds", 3),
        Flag(
            "--num-folds",
            "folds, one critic each; every row is evaluated by the critic that did not train on it",
            "F",
            parse=int,
        ),
    )
    batch_size: int | None = _option(
        None,
        _optional(_whole("batch_size", 2, why="a bound needs negatives")),
        Flag(
            "--batch-size",
            f"pairs per training batch (default: {DEFAULT_BATCH_SIZE}, lower for small data)",
            "K",
            parse=int,
        ),
    )
    max_steps: int = _option(5000, _whole("max_steps", 1), Flag("--max-steps", "most training steps", "N", parse=int))
    learning_rate: float = _option(
        1e-3,
        lambda value: validation.check_positive(value, "learning_rate"),
        Flag("--learning-rate", "Adam step size", "LR", parse=float),
    )
    weight_decay: float = _option(
        0.0,
        _check_weight_decay,
        Flag(
            "--weight-decay",
            "decoupled weight decay (AdamW) of the critics' weights; 0 is plain Adam",
            "W",
            parse=float,
        ),
    )
    patience: int | None = _option(
        None,
        _optional(_whole("patience", 1)),
        Flag(
            "--patience",
            f"validation checks without improvement before stopping (default: {DEFAULT_PATIENCE}, or "
            f"up to {NON_GAUSSIAN_PATIENCE} when the normal scores are not jointly Gaussian by Mardia's test: "
            "as long again as the best check took, once one beat the Gaussian critic)",
            "N",
            parse=int,
        ),
    )
    eval_every: int = _option(
        100, _whole("eval_every", 1), Flag("--eval-every", "training steps between validation checks", "N", parse=int)
    )
    standardize: bool | str = _option(
        True,
        _check_standardize,
        Flag(
            "--standardize",
            "per-column scaling: normal scores via the empirical CDF, mean/std, or none",
            choices=("quantile", "zscore", "none"),
            parse=lambda text: {"quantile": True, "zscore": "zscore", "none": False}[text],
            default="quantile",
        ),
    )
    unmix: str = _option(
        "auto",
        _check_choice("unmix", _UNMIX),
        Flag(
            "--unmix",
            "unmix each side's columns (FastICA) before scaling: auto keeps it where rows that fail Mardia's test "
            "get a better Gaussian critic from it",
            choices=_UNMIX,
        ),
    )
    reduce: str = _option(
        "auto",
        _check_choice("reduce", _REDUCE),
        Flag(
            "--reduce",
            "project each wide side whose rows lie on a low-dimensional manifold onto its leading principal "
            "components: auto does it where the Gaussian critic cannot fit every canonical pair",
            choices=_REDUCE,
        ),
    )
    confidence: float = _option(
        0.95,
        lambda value: validation.check_probability(value, "confidence", allow_zero=False, allow_one=False),
        Flag("--confidence", "coverage of the interval and of the lower bound", "C", parse=float),
    )
    device: str | torch.device = _option(
        "auto", _check_device, Flag("--device", "auto (CUDA when available), cpu or cuda")
    )
    threads: int | None = _option(
        None,
        _optional(_whole("threads", 1)),
        Flag(
            "--threads",
            "CPU threads: the fold members train in that many groups at once (default: 2 where two cores "
            "are usable, else 1)",
            "N",
            parse=int,
        ),
    )
    random_state: int | None = _option(
        None,
        _check_seed,
        Flag(
            "--seed",
            "random seed; the same seed repeats a run (default: drawn at random and recorded in the result)",
            "SEED",
            parse=_parse_seed,
        ),
    )
    progress: bool = _option(True, _check_bool("progress"))
    critic_kwargs: dict[str, Any] | None = _option(None, _check_mapping("critic_kwargs"))
    bound_kwargs: dict[str, Any] | None = _option(None, _check_mapping("bound_kwargs"))
    discrete: str = _option(
        "auto",
        _check_choice("discrete", _DISCRETE),
        Flag(
            "--discrete",
            "which variables hold categories (text labels, booleans, at most 20 distinct whole numbers under auto); "
            "a categorical side gets the Barber-Agakov bound of a classifier, two the MI of their contingency table",
            choices=_DISCRETE,
        ),
    )

    def __post_init__(self) -> None:
        for option in dataclasses.fields(self):
            check = option.metadata["check"]
            if check is not None:
                object.__setattr__(self, option.name, check(getattr(self, option.name)))
        if self.critic is None and not self.gaussian:
            raise ValueError("critic=None leaves nothing to estimate with; keep gaussian=True or name a critic")
        if self.unmix == "always" and self.standardize is False:
            raise ValueError(
                "unmix='always' maps the columns before scaling them, while standardize=False asks for the values "
                "as given; pass one of them"
            )
        if isinstance(self.critic, nn.Module) and self.critic_kwargs:
            raise ValueError("critic_kwargs apply to a critic given by name; configure your module directly")

    @classmethod
    def names(cls) -> list[str]:
        """The option names, in declaration order."""
        return [option.name for option in dataclasses.fields(cls)]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each option's default."""
        return {option.name: option.default for option in dataclasses.fields(cls)}

    @classmethod
    def flags(cls) -> dict[str, Flag]:
        """The options that have a command-line flag, by option name."""
        return {o.name: o.metadata["flag"] for o in dataclasses.fields(cls) if o.metadata["flag"] is not None}

    def replace(self, **options: Any) -> EstimatorSettings:
        """A copy with some options changed (checked like new settings)."""
        return make_settings({**self.as_dict(), **options})

    def as_dict(self) -> dict[str, Any]:
        """The options by name (the values themselves, not copies)."""
        return {name: getattr(self, name) for name in self.names()}

    def batch_size_for(self, fold_rows: int) -> int:
        """K for folds of ``fold_rows`` rows: the setting, or the default capped at a fold.

        Raises:
            ValueError: When the set batch size is larger than a fold.
        """
        if self.batch_size is None:
            return min(DEFAULT_BATCH_SIZE, fold_rows)
        if self.batch_size > fold_rows:
            raise ValueError(
                f"batch_size {self.batch_size} is larger than a fold ({fold_rows} rows with num_folds = "
                f"{self.num_folds}); pass batch_size={fold_rows} or less (or leave it None to choose)"
            )
        return self.batch_size

    def training_options(self) -> dict[str, Any]:
        """The keywords of :func:`~mibounds.estimation.training.train` that come straight from the settings."""
        return {
            "max_steps": self.max_steps,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "eval_every": self.eval_every,
            "progress": self.progress,
        }

    def critic_options(self) -> dict[str, Any]:
        """Keyword arguments of the named critic: :data:`DEFAULT_CRITIC_KWARGS` updated by ``critic_kwargs``."""
        name = self.critic if isinstance(self.critic, str) else ""
        return {**DEFAULT_CRITIC_KWARGS.get(name, {}), **(self.critic_kwargs or {})}


#: Options without a command-line flag, and why.
API_ONLY: Mapping[str, str] = {
    "progress": "the commands show a bar when stderr is a terminal (--no-progress turns it off)",
    "critic_kwargs": "a dict of the critic's own arguments",
    "bound_kwargs": "a dict of the bound's own arguments (name the bound with its parameter instead: smile:5)",
}


def make_settings(options: Mapping[str, Any]) -> EstimatorSettings:
    """:class:`EstimatorSettings` from keyword options, refusing an unknown name with the closest one.

    Raises:
        TypeError: For an unknown option (and from the checks, for a value of the wrong type).
        ValueError: From the checks, for a value out of range.
    """
    valid = EstimatorSettings.names()
    for name in options:
        if name not in valid:
            raise TypeError(str(validation.unknown_name_error("estimator option", name, valid)))
    return EstimatorSettings(**options)


def options_signature(*leading: inspect.Parameter) -> inspect.Signature:
    """The signature ``(*leading, *, option=default, ...)`` of a face that takes the options as keywords.

    The faces take ``**options`` and set this as their ``__signature__``, so ``help()``,
    ``inspect.signature`` and scikit-learn's ``get_params`` see every option with its default.
    """
    hints = {o.name: o.type for o in dataclasses.fields(EstimatorSettings)}
    keywords = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[name])
        for name, default in EstimatorSettings.defaults().items()
    ]
    return inspect.Signature([*leading, *keywords])
