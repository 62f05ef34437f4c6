"""Estimate mutual information from paired samples: :func:`estimate` and :class:`MIEstimator`.

Both are thin faces over :func:`mibounds.estimation.pipeline.run` (validate, prepare, fit,
evaluate, diagnose, assemble: the procedure is described there) and take the options of
:class:`~mibounds.estimation.settings.EstimatorSettings` as keywords.

Measured accuracy, coverage and time: ``mibounds bench accuracy`` and docs/accuracy.md.
"""

from __future__ import annotations

import inspect
from typing import Any

from mibounds import validation
from mibounds.estimation._runtime import issue_warnings
from mibounds.estimation.names import estimator_bounds
from mibounds.estimation.pipeline import run
from mibounds.estimation.result import EstimateResult
from mibounds.estimation.settings import EstimatorSettings, make_settings, options_signature

__all__ = ["MIEstimator", "estimate", "estimator_bounds"]

_DATA = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in ("x", "y")]


class MIEstimator:
    """Estimate I(X; Y) in nats from paired samples, with a held-out interval (scikit-learn style).

    ``__init__`` only stores its options (those of
    :class:`~mibounds.estimation.settings.EstimatorSettings`, checked by :meth:`fit`);
    :meth:`fit` runs :func:`~mibounds.estimation.pipeline.run` and sets the fitted attributes,
    whose names end in ``_``.

    Attributes:
        result_: The :class:`EstimateResult`.
        estimate_: The held-out estimate (nats).
        ci_: ``(low, high)`` interval.
        stderr_: Its standard error.
        lower_bound_: The one-sided lower confidence limit of the certified lower bound (nats).
        model_: The trained :class:`~mibounds.estimation.training.FoldCritic` (all folds' critics,
            bounds and baselines), on ``device_``, in eval mode; the fold classifiers of a
            categorical side; None for two categorical sides.
        plan_: The :class:`~mibounds.estimation.training.FoldPlan` (which rows each critic saw),
            None for categories.
        heldout_: The :class:`~mibounds.estimation.heldout.HeldoutValues` (per-row held-out values,
            in the order of the plan's evaluation folds), None for categories.
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
        >>> from mibounds.interfaces import Estimator
        >>> isinstance(est, Estimator)
        True
    """

    def __init__(self, **options: Any) -> None:
        valid = EstimatorSettings.names()
        for name in options:
            if name not in valid:
                raise TypeError(str(validation.unknown_name_error("estimator option", name, valid)))
        for name, default in EstimatorSettings.defaults().items():
            setattr(self, name, options.get(name, default))

    __init__.__signature__ = options_signature(inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY))  # type: ignore[attr-defined]

    # -- scikit-learn parameter protocol ----------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The options as a dict (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in EstimatorSettings.names()}

    def set_params(self, **params: Any) -> MIEstimator:
        """Set options by name; returns self."""
        valid = EstimatorSettings.names()
        for name, value in params.items():
            if name not in valid:
                raise validation.unknown_name_error("parameter", name, valid)
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = EstimatorSettings.defaults()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k])]
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
        fitted = run(x, y, make_settings(self.get_params()))
        result = fitted.result
        self.result_, self.model_, self.plan_, self.heldout_ = result, fitted.model, fitted.plan, fitted.heldout
        self.x_scaler_, self.y_scaler_, self.device_ = fitted.x_scaler, fitted.y_scaler, fitted.device
        self.estimate_, self.ci_, self.stderr_ = result.estimate, (result.ci_low, result.ci_high), result.stderr
        self.lower_bound_ = result.lower_bound
        if fitted.n_features is not None:
            self.n_features_x_, self.n_features_y_ = fitted.n_features
        issue_warnings(result.warnings)
        return self

    def estimate(self, x: Any, y: Any) -> float:
        """Fit on ``(x, y)`` and return the held-out estimate in nats (:class:`mibounds.interfaces.Estimator`)."""
        self.fit(x, y)
        return self.estimate_


def estimate(x: Any, y: Any, *z: Any, **options: Any) -> EstimateResult:
    """Estimate I(X; Y) in nats from paired samples, with a held-out interval and a lower bound.

    Cross-fits a Gaussian critic plus a learned residual critic and reports what they say on rows
    they never saw (:mod:`mibounds.estimation.pipeline`). For I(X; Y | Z) use
    :func:`~mibounds.estimation.conditional_estimate`.

    Args:
        x: ``[n, dx]`` samples (NumPy, torch, pandas; 1-d = one feature).
        y: ``[n, dy]`` samples, row i paired with row i of x.
        **options: The options of :class:`~mibounds.estimation.settings.EstimatorSettings`
            (``random_state``, ``max_steps``, ``bound``, ``critic``, ``discrete``, ...).

    Returns:
        The :class:`EstimateResult` (``estimate``, ``ci_low``, ``ci_high``, ``lower_bound``,
        ``warnings``, ...). Its warnings are also issued as :class:`MIBoundsWarning`.

    Raises:
        ValueError / TypeError: For bad inputs or options, naming the fix.

    Example:
        >>> import numpy as np, mibounds
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2000, 1))
        >>> y = x + rng.normal(size=(2000, 1))  # I = 0.5 log 2 = 0.347 nats
        >>> result = mibounds.estimate(x, y, max_steps=200, random_state=0, progress=False)
        >>> result.ci_low < 0.347 < result.ci_high and result.lower_bound < 0.347
        True
    """
    if z or "z" in options:
        raise TypeError(
            "estimate() takes no z: for the conditional MI I(X; Y | Z) call "
            "mibounds.conditional_estimate(x, y, z, ...) with the same options"
        )
    result = run(x, y, make_settings(options)).result
    issue_warnings(result.warnings)
    return result


estimate.__signature__ = options_signature(*_DATA)  # type: ignore[attr-defined]


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. tensors or modules: compare by identity
        return a is b
