"""The registry of bounds: one entry per bound, with the metadata that drives the CLI listing,
the docs table, the estimators and the parametrized test battery, and the one parser of a bound
named with its parameters (``"smile:5"``).

Example:
    >>> from mibounds.bounds import registry
    >>> info = registry.get("infonce")
    >>> info.kind, info.needs, round(info.ceiling_for(64), 4)
    ('lower', ('scores',), 4.1589)
    >>> registry.parse("interpolated:0.9")[1]
    {'alpha': 0.9}
    >>> info.traits.batch_size_independent, registry.get("dv").population_only  # Poole et al., Table 1
    (False, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from mibounds.bounds import lower, structured
from mibounds.validation import unknown_name_error

__all__ = ["BoundInfo", "Traits", "get", "names", "parse"]

#: What a bound needs besides hyper-parameters.
#: "scores": a [K, K] critic score matrix; "log_baseline": log a(y), scalar or [K];
#: "state": a moving average kept across batches (use the module); "log_conditional": [K, K]
#: log p(y_j | x_i); "log_marginal": [K] log q(y_i); "log_decoder": [K] log q(x_i | y_i);
#: "entropy_x": h(X) in nats; "joint_scores": [K] critic scores f(x_i, y_i) of the joint pairs (or the
#: [K, K] matrix, diagonal used); "log_partition": log Z(y_i) = log E_p(x) e^{f(x, y_i)}, scalar or [K].
Need = Literal[
    "scores",
    "log_baseline",
    "state",
    "log_conditional",
    "log_marginal",
    "log_decoder",
    "entropy_x",
    "joint_scores",
    "log_partition",
]


def _no_ceiling(batch_size: int, **params: Any) -> float | None:
    return None


def _log_k(batch_size: int, **params: Any) -> float:
    return math.log(batch_size)


def _interpolated_ceiling(batch_size: int, alpha: float = 0.5, **params: Any) -> float | None:
    # The supremum of I_alpha (lower.interpolated): 1 + log((K-1)/alpha) for 0 < alpha < 1, and
    # log(K-1) at alpha = 1, where the partition term is exactly 1. (Poole et al.'s log(K/alpha) is
    # exceeded by real batches.)
    if alpha == 0:
        return None
    if alpha == 1:
        return math.log(batch_size - 1)
    return 1.0 + math.log((batch_size - 1) / alpha)


_TABLE_1 = "Poole et al. 2019, Table 1"
_NOT_IN_TABLE_1 = "mibounds (not in Table 1; by the same criteria)"


@dataclass(frozen=True)
class Traits:
    """How a lower bound behaves as an estimator: the columns of Poole et al. 2019, Table 1.

    True is the paper's check mark, False its cross, None its dash (the column does not apply).

    Attributes:
        tractable_value: The objective's value can be estimated without bias from samples ("L").
        tractable_gradient: So can its gradient ("∇L").
        batch_size_independent: What it bounds does not depend on the batch size ("⊥BS"; InfoNCE
            and I_alpha are capped by log K).
        low_variance: Its batch estimates have low variance ("Var."; NWJ-type partition terms
            grow like e^I).
        unnormalized_critic: It accepts an unnormalized critic ("Norm.": BA needs a normalized
            decoder q(x|y)).
        source: Where the row comes from: the paper's Table 1, or this package for the bounds the
            table leaves out (TUBA, SMILE, UBA, TNCE), judged by the same criteria.
    """

    tractable_value: bool | None
    tractable_gradient: bool | None
    batch_size_independent: bool | None
    low_variance: bool | None
    unnormalized_critic: bool | None
    source: str = _TABLE_1

    @property
    def in_table_1(self) -> bool:
        """True when the row is the paper's (False: this package's reading of a bound it leaves out)."""
        return self.source == _TABLE_1

    #: The column names, in the paper's order, and their headers in ``mibounds bounds``.
    COLUMNS = (
        ("tractable_value", "value"),
        ("tractable_gradient", "grad"),
        ("batch_size_independent", "K-indep"),
        ("low_variance", "low-var"),
        ("unnormalized_critic", "unnorm"),
    )


@dataclass(frozen=True)
class BoundInfo:
    """Metadata of one bound.

    Attributes:
        name: Registry name (the function's name).
        fn: The pure function computing it.
        kind: ``"lower"`` or ``"upper"`` (a bound on I(X; Y) in expectation).
        needs: What it takes besides hyper-parameters (see :data:`Need`).
        params: Hyper-parameters and their defaults, e.g. ``{"alpha": 0.5}``.
        ceiling: ``ceiling(batch_size, **params)``: the largest value the estimate can take on a batch of K
            pairs (``log K`` for InfoNCE), or None when unbounded.
        reference: Paper the bound comes from.
        year: Its year.
        summary: One line: what it is.
        trains: What the gradient of the returned tensor optimizes.
        reports: What the value of the returned tensor is.
        objective: ``objective(scores)``: a function whose *value* is what the gradient
            maximizes, where that differs from the reported value (the f-GAN JS objective for
            ``js`` and ``smile``); None when the value is itself the objective. Early stopping
            watches it. It takes a stack ``[..., K, K]`` of score matrices too (one value each).
        optimal_offset: The critic that maximizes the training objective is
            ``log p(x, y) / p(x) p(y) + optimal_offset`` (0 for JS-trained critics, 1 for NWJ);
            None when the objective leaves a constant or a function of y free (DV, InfoNCE), so
            the critic's scores cannot be read as the log density ratio.
        traits: The columns of Poole et al.'s Table 1 (:class:`Traits`); None for upper bounds.
        population_only: True for a lower bound whose batch value is not one: its population
            value is at most I, but the batch estimate of its log-partition is biased low, so
            with the optimal critic the batch value is above I on average at a finite K (DV,
            MINE, SMILE: DV gives 11.31 at I = 10 nats and K = 64; ``tests/bounds/test_finite_batch.py``).
    """

    name: str
    fn: Callable[..., Any]
    kind: Literal["lower", "upper"]
    needs: tuple[Need, ...]
    reference: str
    year: int
    summary: str
    params: Mapping[str, Any] = field(default_factory=dict)
    ceiling: Callable[..., float | None] = _no_ceiling
    trains: str = "the bound itself"
    reports: str = "the bound itself"
    objective: Callable[..., Any] | None = None
    optimal_offset: float | None = None
    traits: Traits | None = None
    population_only: bool = False

    @property
    def score_based(self) -> bool:
        """True when the bound is computed from a critic's score matrix (it can train a critic)."""
        return "scores" in self.needs

    def ceiling_for(self, batch_size: int, **params: Any) -> float | None:
        """The ceiling at batch size K = ``batch_size`` with this entry's default params updated by ``params``."""
        return self.ceiling(batch_size, **{**self.params, **params})


_POOLE = "Poole et al. 2019, On Variational Bounds of Mutual Information (arXiv:1905.06922)"

_ENTRIES = (
    BoundInfo(
        "tuba",
        lower.tuba,
        "lower",
        ("scores", "log_baseline"),
        _POOLE,
        2019,
        "tractable unnormalized Barber-Agakov: NWJ with a baseline log a(y)",
        traits=Traits(True, True, True, False, True, _NOT_IN_TABLE_1),
    ),
    BoundInfo(
        "nwj",
        lower.nwj,
        "lower",
        ("scores",),
        "Nguyen, Wainwright, Jordan 2010, Estimating divergence functionals (f-MINE)",
        2010,
        "f-divergence (KL) bound; unbiased mean, but a typical batch is above I at high MI; variance grows like e^I",
        optimal_offset=1.0,
        traits=Traits(True, True, True, False, True),
    ),
    BoundInfo(
        "dv",
        lower.dv,
        "lower",
        ("scores",),
        "Donsker, Varadhan 1983; Belghazi et al. 2018, MINE (arXiv:1801.04062)",
        1983,
        "Donsker-Varadhan: joint mean minus log of the mean exp over negatives",
        traits=Traits(False, False, None, None, None),
        population_only=True,
    ),
    BoundInfo(
        "mine",
        lower.mine,
        "lower",
        ("scores", "state"),
        "Belghazi et al. 2018, Mutual Information Neural Estimation (arXiv:1801.04062)",
        2018,
        "DV with the partition gradient divided by a moving average (module holds it)",
        params={"rate": 0.01},
        trains="DV with a moving-average partition gradient",
        reports="DV",
        traits=Traits(False, True, True, False, True),
        population_only=True,
    ),
    BoundInfo(
        "infonce",
        lower.infonce,
        "lower",
        ("scores",),
        "van den Oord, Li, Vinyals 2018, Contrastive Predictive Coding (arXiv:1807.03748)",
        2018,
        "K-way classification of the positive x for each y; never above log K",
        params={"symmetric": False},
        ceiling=_log_k,
        traits=Traits(True, True, False, True, True),
    ),
    BoundInfo(
        "js",
        lower.js,
        "lower",
        ("scores",),
        "Hjelm et al. 2019, Deep InfoMax (arXiv:1808.06670); " + _POOLE,
        2019,
        "critic trained with the f-GAN Jensen-Shannon objective, reported with NWJ on f + 1",
        trains="f-GAN Jensen-Shannon objective",
        reports="NWJ on scores + 1",
        objective=lower.js_fgan,
        optimal_offset=0.0,
        traits=Traits(True, True, True, False, True),
    ),
    BoundInfo(
        "smile",
        lower.smile,
        "lower",
        ("scores",),
        "Song, Ermon 2020, Understanding the Limitations of Variational MI Estimators (arXiv:1910.06222)",
        2020,
        "DV with the partition term over scores clipped to [-clip, clip], JS-trained",
        params={"clip": 5.0},
        trains="f-GAN Jensen-Shannon objective",
        reports="clipped DV",
        objective=lower.js_fgan,
        optimal_offset=0.0,
        traits=Traits(False, True, True, True, True, _NOT_IN_TABLE_1),
        population_only=True,
    ),
    BoundInfo(
        "interpolated",
        lower.interpolated,
        "lower",
        ("scores", "log_baseline"),
        _POOLE,
        2019,
        "I_alpha: TUBA with a baseline mixing the leave-one-out batch average (alpha) and a(y)",
        params={"alpha": 0.5},
        ceiling=_interpolated_ceiling,
        traits=Traits(True, True, False, True, True),
    ),
    BoundInfo(
        "ba",
        structured.ba,
        "lower",
        ("log_decoder", "entropy_x"),
        "Barber, Agakov 2003, The IM algorithm",
        2003,
        "E log q(x|y) + h(X): needs a tractable decoder and the entropy of X",
        traits=Traits(False, True, True, True, False),
    ),
    BoundInfo(
        "uba",
        structured.uba,
        "lower",
        ("joint_scores", "log_partition"),
        _POOLE,
        2019,
        "unnormalized Barber-Agakov: E f(x, y) - E log Z(y), with the log-partition given",
        traits=Traits(False, False, True, True, True, _NOT_IN_TABLE_1),
    ),
    BoundInfo(
        "tnce",
        structured.tnce,
        "lower",
        ("log_conditional",),
        _POOLE,
        2019,
        "InfoNCE with the critic log p(y|x) of a tractable encoder",
        ceiling=_log_k,
        traits=Traits(True, True, False, True, False, _NOT_IN_TABLE_1),
    ),
    BoundInfo(
        "rate",
        structured.rate,
        "upper",
        ("log_conditional", "log_marginal"),
        "Alemi et al. 2017, Deep Variational Information Bottleneck (arXiv:1612.00410)",
        2017,
        "E_x KL(p(y|x) || q(y)) for a tractable encoder and any marginal q",
    ),
    BoundInfo(
        "leave_one_out_upper",
        structured.leave_one_out_upper,
        "upper",
        ("log_conditional",),
        _POOLE,
        2019,
        "rate with q(y) replaced by the leave-one-out minibatch mixture of p(y|x_i)",
    ),
    BoundInfo(
        "club",
        structured.club,
        "upper",
        ("log_conditional",),
        "Cheng et al. 2020, CLUB: A Contrastive Log-ratio Upper Bound (arXiv:2006.12013)",
        2020,
        "E_joint log p(y|x) - E_marginals log p(y|x)",
    ),
)

_REGISTRY: Mapping[str, BoundInfo] = MappingProxyType({entry.name: entry for entry in _ENTRIES})

#: The hyper-parameter a ``"name:value"`` label sets, per bound.
MAIN_PARAM: Mapping[str, str] = MappingProxyType({"smile": "clip", "interpolated": "alpha", "mine": "rate"})


def _normalize(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


def names(*, kind: Literal["lower", "upper"] | None = None, score_based: bool | None = None) -> list[str]:
    """Registered bound names, in the order of the literature table.

    Args:
        kind: Keep only ``"lower"`` or ``"upper"`` bounds.
        score_based: Keep only bounds computed from a critic's score matrix (True) or only the
            structured ones that need densities (False).

    Returns:
        The names.
    """
    return [
        entry.name
        for entry in _ENTRIES
        if (kind is None or entry.kind == kind) and (score_based is None or entry.score_based == score_based)
    ]


def get(name: str) -> BoundInfo:
    """The registry entry of a bound (case-insensitive; ``-`` and ``_`` are interchangeable).

    Raises:
        ValueError: For an unknown name, listing the valid ones and the closest match.
    """
    try:
        return _REGISTRY[_normalize(name)]
    except KeyError:
        raise unknown_name_error("bound", name, _REGISTRY) from None


def parse(label: str, **params: Any) -> tuple[BoundInfo, dict[str, Any]]:
    """A bound named with its parameters: ``"name"``, ``"name:value"`` or ``"name:key=value"``.

    ``value`` sets the bound's main hyper-parameter (:data:`MAIN_PARAM`): ``clip`` for smile
    (``inf`` or ``none`` for no clipping), ``alpha`` for interpolated, ``rate`` for mine. This is
    the one syntax every entry point accepts (``bounds.make``, the losses, ``estimate``, the
    command line, the experiments).

    Args:
        label: The bound's name, optionally with one parameter.
        **params: Further hyper-parameters, merged with the label's.

    Returns:
        The registry entry and the hyper-parameters (the label's and ``params``).

    Raises:
        ValueError: For an unknown bound, a bound that takes no such parameter, a value that is
            not a number, or a parameter given both in the label and in ``params``.

    Example:
        >>> from mibounds import bounds
        >>> info, params = bounds.parse("smile:5")
        >>> info.name, params
        ('smile', {'clip': 5.0})
        >>> bounds.parse("interpolated:alpha=0.9")[1], bounds.parse("smile:inf")[1]
        ({'alpha': 0.9}, {'clip': None})
        >>> bounds.parse("infonce", symmetric=True)[1]
        {'symmetric': True}
    """
    text = str(label)
    name, _, value = text.strip().partition(":")
    info = get(name)
    parsed: dict[str, Any] = {}
    if value:
        key, eq, raw = value.partition("=")
        if not eq:
            key, raw = MAIN_PARAM.get(info.name, ""), value
        if key not in info.params:
            allowed = ", ".join(info.params) or "none"
            raise ValueError(
                f"bound label {text!r}: bound {info.name!r} has no parameter {key or '(main)'!r}; "
                f"its parameters: {allowed}; write e.g. 'smile:5' or 'interpolated:alpha=0.5'"
            )
        if raw.strip().lower() in ("inf", "none"):
            parsed[key] = None
        else:
            try:
                parsed[key] = float(raw)
            except ValueError:
                raise ValueError(f"bound label {text!r}: {raw!r} is not a number (or 'inf')") from None
    twice = sorted(set(parsed) & set(params))
    if twice:
        raise ValueError(
            f"bound label {text!r} sets {', '.join(map(repr, twice))}, which is also given as a keyword; "
            "give each parameter once"
        )
    return info, {**parsed, **params}
