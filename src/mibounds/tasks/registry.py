"""The registry of task families: names, one-line descriptions, and ``make`` from a name or an id."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from mibounds.tasks.base import Task, fmt
from mibounds.tasks.embedding import Embedded
from mibounds.tasks.gaussian import Gaussian, MultivariateNormal
from mibounds.tasks.mixture import FloatLabels
from mibounds.tasks.regimes import SignMixture
from mibounds.tasks.student_t import StudentT
from mibounds.tasks.transforms import _MAP_LABEL, _NUMBER, Cubic, Transformed, make_map
from mibounds.validation import unknown_name_error

__all__ = ["TaskFamily", "at_mi", "describe", "get", "make", "names"]

_POOLE = "Poole et al. 2019, On Variational Bounds of Mutual Information (arXiv:1905.06922)"
_CZYZ = "Czyz et al. 2023, Beyond Normal: On the Evaluation of MI Estimators (arXiv:2306.11078)"
_MIXTURES = "Czyz et al. 2025, On the Properties and Estimation of Pointwise MI Profiles (arXiv:2310.10240)"
_OURS = "mibounds, docs/design.md sec. 5: real data beyond the Gaussian copula"


@dataclass(frozen=True)
class TaskFamily:
    """One family of tasks.

    Attributes:
        name: Registry name, e.g. ``"gaussian"``.
        summary: One line: what it is and its parameters with their defaults.
        build: ``build(**params) -> Task``.
        reference: Paper the family comes from.
    """

    name: str
    summary: str
    build: Callable[..., Task]
    reference: str


def _embed_family(base: Task | str = "gaussian-d5-mi4", dim: int = 100, on: Literal["x", "y", "both"] = "both") -> Task:
    return Embedded(base if isinstance(base, Task) else make(base), dim, on)


def _transform_family(map_name: str) -> Callable[..., Task]:
    def build(base: Task | str = "gaussian", on: Literal["x", "y", "both"] = "both", **map_params: Any) -> Task:
        base_task = base if isinstance(base, Task) else make(base)
        if on not in ("x", "y", "both"):
            raise ValueError(f"on must be 'x', 'y' or 'both' (the side(s) the map applies to), got {on!r}")
        fn = make_map(map_name, **map_params)
        return Transformed(base_task, fn if on != "y" else None, fn if on != "x" else None)

    return build


_TRANSFORM_SUMMARY = "{what}; params base='gaussian' (a task or id), on='both' ('x', 'y')"

_FAMILIES = (
    TaskFamily("gaussian", "correlated Gaussian y = rho x + noise; params dim=20, mi=2.0", Gaussian, _POOLE),
    TaskFamily(
        "cubic",
        "correlated Gaussian with y -> (W y)^3, W a seeded full-rank matrix; params dim=20, mi=2.0, "
        "mixing_seed=0 (None: y^3 without W)",
        Cubic,
        _POOLE,
    ),
    TaskFamily(
        "mvn-dense",
        "multinormal, all x-y correlations equal; params dim_x=3, dim_y=3, correlation=0.25, within_correlation=0.0",
        MultivariateNormal.dense,
        _CZYZ,
    ),
    TaskFamily(
        "mvn-sparse",
        "multinormal, first k pairs correlated; params dim_x=3, dim_y=3, n_interacting=2, correlation=0.8",
        MultivariateNormal.sparse,
        _CZYZ,
    ),
    TaskFamily(
        "student-t",
        "multivariate Student-t, paired scale correlations; params dim_x=2, dim_y=2, dof=3.0, correlation=0.0, "
        "n_interacting=min(dim_x, dim_y)",
        StudentT,
        _CZYZ,
    ),
    TaskFamily(
        "student-t-dense",
        "multivariate Student-t, all x-y scale entries equal; params dim_x=3, dim_y=3, dof=3.0, correlation=0.25, "
        "within_correlation=0.0",
        StudentT.dense,
        _CZYZ,
    ),
    TaskFamily(
        "sign-mixture",
        "equal mixture of correlated Gaussians whose x-y correlations flip sign (identity covariance); "
        "params dim=10, num_components=2, correlation=0.78",
        SignMixture,
        _MIXTURES,
    ),
    TaskFamily(
        "float-labels",
        "class label 0..C-1 as a float column x, y | c ~ N(mu_c, sigma^2 I); params num_classes=10, dim=2, sigma=0.3",
        FloatLabels,
        _OURS,
    ),
    TaskFamily(
        "normal-cdf",
        _TRANSFORM_SUMMARY.format(what="base task through the normal CDF"),
        _transform_family("normal-cdf"),
        _CZYZ,
    ),
    TaskFamily(
        "half-cube",
        _TRANSFORM_SUMMARY.format(what="base task through x sqrt|x|"),
        _transform_family("half-cube"),
        _CZYZ,
    ),
    TaskFamily("asinh", _TRANSFORM_SUMMARY.format(what="base task through asinh"), _transform_family("asinh"), _CZYZ),
    TaskFamily("cube", _TRANSFORM_SUMMARY.format(what="base task through x^3"), _transform_family("cube"), _POOLE),
    TaskFamily(
        "rotate",
        _TRANSFORM_SUMMARY.format(what="base task through a fixed orthonormal mixing (DCT-II)"),
        _transform_family("rotate"),
        _CZYZ,
    ),
    TaskFamily(
        "spiral",
        _TRANSFORM_SUMMARY.format(what="base task through a norm-dependent rotation") + ", speed=1.0",
        _transform_family("spiral"),
        _CZYZ,
    ),
    TaskFamily(
        "embed",
        "base task embedded injectively into R^dim on each side (input, tanh and sin features, random rotation); "
        "params base='gaussian-d5-mi4' (a task or id), dim=100, on='both' ('x', 'y')",
        _embed_family,
        _OURS,
    ),
)

_REGISTRY: Mapping[str, TaskFamily] = MappingProxyType({family.name: family for family in _FAMILIES})

# Task ids, as the `name` of each task spells them, and how to rebuild the task from one.
_N = f"({_NUMBER})"
_ID_PATTERNS: tuple[tuple[str, Callable[..., Task]], ...] = (
    (rf"gaussian-d(\d+)-mi{_N}", lambda d, mi: Gaussian(int(d), float(mi))),
    (rf"cubic-d(\d+)-mi{_N}(?:-w(\d+))?", lambda d, mi, w: Cubic(int(d), float(mi), None if w is None else int(w))),
    (
        rf"mvn-dense-dx(\d+)-dy(\d+)-c{_N}(?:-w{_N})?",
        lambda dx, dy, c, w: MultivariateNormal.dense(int(dx), int(dy), float(c), float(w or 0)),
    ),
    (
        rf"mvn-sparse-dx(\d+)-dy(\d+)-k(\d+)-c{_N}",
        lambda dx, dy, k, c: MultivariateNormal.sparse(int(dx), int(dy), int(k), float(c)),
    ),
    (
        rf"student-t-dx(\d+)-dy(\d+)-dof{_N}-c{_N}(?:-k(\d+))?",
        lambda dx, dy, dof, c, k: StudentT(int(dx), int(dy), float(dof), float(c), None if k is None else int(k)),
    ),
    (
        rf"student-t-dense-dx(\d+)-dy(\d+)-dof{_N}-c{_N}(?:-w{_N})?",
        lambda dx, dy, dof, c, w: StudentT.dense(int(dx), int(dy), float(dof), float(c), float(w or 0)),
    ),
    (rf"sign-mixture-d(\d+)-k(\d+)-c{_N}", lambda d, k, c: SignMixture(int(d), int(k), float(c))),
    (rf"float-labels-c(\d+)-d(\d+)-s{_N}", lambda c, d, s: FloatLabels(int(c), int(d), float(s))),
)


def _from_id(task_id: str) -> Task | None:
    for pattern, build in _ID_PATTERNS:
        match = re.fullmatch(pattern, task_id)
        if match:
            return build(*match.groups())
    match = re.fullmatch(r"([^()]+)\((.+)\)", task_id)
    if match is None:
        return None
    prefix, base_id = match.groups()
    base = _from_id(base_id)
    if base is None:
        return None
    match = re.fullmatch(r"embed-d(\d+)(?:-(x|y))?", prefix)
    if match:
        on: Literal["x", "y", "both"] = "x" if match.group(2) == "x" else "y" if match.group(2) == "y" else "both"
        return Embedded(base, int(match.group(1)), on)
    label = f"({_MAP_LABEL})"
    for pattern, sides in ((label, "xy"), (f"{label}-x", "x"), (f"{label}-y", "y"), (f"{label}-x-{label}-y", "")):
        match = re.fullmatch(pattern, prefix)
        if match is None:
            continue
        if sides == "":  # two different maps
            return Transformed(base, make_map(match.group(1)), make_map(match.group(2)))
        bijection = make_map(match.group(1))
        return Transformed(base, bijection if "x" in sides else None, bijection if "y" in sides else None)
    return None


def names() -> list[str]:
    """Registered task family names (``describe(name)`` gives each one's one-line summary)."""
    return [family.name for family in _FAMILIES]


def get(name: str) -> TaskFamily:
    """The registry entry of a family (case-insensitive).

    Raises:
        ValueError: For an unknown name, listing the valid ones and the closest match.
    """
    try:
        return _REGISTRY[str(name).strip().lower()]
    except KeyError:
        raise unknown_name_error("task", name, _REGISTRY) from None


def describe(name: str | None = None) -> str:
    """The one-line summary of a family, or with no name a line ``"<name>: <summary>"`` per family."""
    if name is not None:
        return get(name).summary
    width = max(len(n) for n in _REGISTRY)
    return "\n".join(f"{family.name:<{width}}  {family.summary}" for family in _FAMILIES)


def make(name: str, **params: Any) -> Task:
    """Build a task from a family name and its parameters, or from a task id.

    Args:
        name: A family name from :func:`names` (``"gaussian"``), or the ``name`` of a task
            (``"gaussian-d20-mi2"``, ``"asinh(mvn-sparse-dx3-dy3-k2-c0.8)"``) to rebuild it.
            Ids of tasks built from an arbitrary matrix (with a ``cov``/``scale`` hash) cannot
            be rebuilt.
        **params: Parameters of the family (see :func:`describe`); none with an id.

    Returns:
        The task.

    Raises:
        ValueError: For a name that is neither a family nor a parseable id, or parameters
            given with an id.

    Example:
        >>> make("gaussian", dim=5, mi=1.0).name
        'gaussian-d5-mi1'
        >>> make("gaussian-d5-mi1").mutual_information
        1.0
    """
    key = str(name).strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key].build(**params)
    task = _from_id(key)
    if task is None:
        raise unknown_name_error("task", name, _REGISTRY)
    if params:
        raise ValueError(
            f"{name!r} is a task id that already fixes the parameters, but got {sorted(params)} too; "
            "pass a family name with keywords (e.g. make('gaussian', dim=20, mi=2.0)) or the id alone"
        )
    return task


# The MI level inside a task id: "-mi2" in "gaussian-d20-mi2", "cubic-d20-mi2-w0", "asinh(gaussian-d5-mi0.5)".
_MI_LEVEL = re.compile(rf"-mi{_NUMBER}(?=$|[-)])")


def at_mi(name: str, mi: float, *, dim: int | None = None) -> Task:
    """A task of a family or of an id, at mutual information ``mi`` nats (a staircase's level).

    A family name is built with ``mi`` (and ``dim`` when given): ``gaussian`` and ``cubic`` take both.
    A task id must hold one MI level, ``-mi<nats>``, which is replaced by ``mi``: the Gaussian and
    cubic ids and every transform or embedding of them (``"asinh(gaussian-d20-mi2)"``,
    ``"rotate(half-cube(gaussian-d20-mi2))"``, ``"embed-d100(gaussian-d5-mi4)"``). An id fixes its
    own dimensions: ``dim`` applies to family names only.

    Args:
        name: A family name or a task id.
        mi: The MI level in nats, >= 0.
        dim: The dimension of x and of y, for a family name (not used with an id).

    Returns:
        The task, whose ``mutual_information`` is ``mi``.

    Raises:
        ValueError: For a family that takes no MI level, an id with no (or several) MI levels, or
            an unknown name.

    Example:
        >>> at_mi("asinh(gaussian-d5-mi1)", 4.0).name
        'asinh(gaussian-d5-mi4)'
        >>> at_mi("cubic", 2.0, dim=3).name
        'cubic-d3-mi2-w0'
    """
    key = str(name).strip().lower()
    if key in _REGISTRY:
        takes = inspect.signature(_REGISTRY[key].build).parameters
        if "mi" not in takes:
            raise ValueError(
                f"task family {key!r} takes no MI level ({describe(key)}); give a task id with one, "
                "e.g. 'asinh(gaussian-d20-mi2)', whose '-mi2' each level replaces"
            )
        return _REGISTRY[key].build(mi=mi, **({} if dim is None or "dim" not in takes else {"dim": dim}))
    levels = _MI_LEVEL.findall(key)
    if len(levels) != 1:
        make(key)  # an unknown name gets the registry's message
        found = "no MI level" if not levels else f"{len(levels)} MI levels ({', '.join(levels)})"
        raise ValueError(
            f"task id {name!r} has {found}; give an id with exactly one '-mi<nats>' to step through, "
            "e.g. gaussian-d20-mi2, cubic-d20-mi2-w0, asinh(gaussian-d20-mi2) or embed-d100(gaussian-d5-mi4)"
        )
    task = make(_MI_LEVEL.sub(f"-mi{fmt(float(mi))}", key))
    if not math.isclose(task.mutual_information, float(mi), rel_tol=1e-9, abs_tol=1e-12):
        raise RuntimeError(f"task {task.name!r} has MI {task.mutual_information} nats, not the level {mi}")
    return task
