"""The one check of the bound and critic names that the estimator (and its callers) accept.

:func:`mibounds.estimate`, :class:`~mibounds.estimation.MIEstimator`, the command line and the
benchmark cells all refuse a name through these functions, so a wrong name gets the same message
wherever it is typed.

Example:
    >>> from mibounds.estimation.names import check_bound, estimator_bounds
    >>> check_bound("infonce").name, "club" in estimator_bounds()
    ('infonce', False)
"""

from __future__ import annotations

from collections.abc import Iterable

from mibounds import bounds, critics
from mibounds.validation import unknown_name_error

__all__ = ["check_bound", "check_critic", "estimator_bounds"]


def estimator_bounds() -> list[str]:
    """Bounds :func:`mibounds.estimate` can train a critic with: the registry's score-based lower bounds."""
    return bounds.names(kind="lower", score_based=True)


def check_bound(name: str) -> bounds.BoundInfo:
    """The registry entry of a bound that can train a critic from samples.

    Args:
        name: A registry name (or alias), optionally with a parameter (``"smile:5"``, see
            :func:`mibounds.bounds.parse`).

    Returns:
        Its :class:`~mibounds.bounds.BoundInfo`.

    Raises:
        ValueError: For an unknown name (listing the usable bounds and the closest match), or for
            a known bound that cannot train a critic from samples (an upper or structured bound).
    """
    valid = estimator_bounds()
    try:
        info = bounds.get(str(name).partition(":")[0])
    except ValueError:
        raise unknown_name_error("bound", name, valid) from None
    if info.name not in valid:
        raise ValueError(
            f"bound {info.name!r} cannot train a critic from samples (it is "
            f"{'an upper bound' if info.kind == 'upper' else 'a structured bound'} that needs "
            f"{', '.join(info.needs)}); choose one of: {', '.join(valid)}"
        )
    bounds.parse(name)  # the label's parameter, if any
    return info


def check_critic(name: object, *, also: Iterable[str] = ()) -> None:
    """Refuse a critic name that is not in the critic registry (nor in ``also``).

    Args:
        name: The name asked for.
        also: Further accepted names, listed in the message (e.g. ``"none"`` on the command line).

    Raises:
        ValueError: Listing the valid names and the closest match.
    """
    valid = [*critics.names(), *also]
    if name not in valid:
        raise unknown_name_error("critic", str(name), valid)
