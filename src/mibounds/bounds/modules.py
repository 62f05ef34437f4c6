"""``nn.Module`` faces of the score-based bounds: they hold hyper-parameters and state and call the
functions in :mod:`mibounds.bounds.lower`, returning exactly what the functions return."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from mibounds.bounds import lower
from mibounds.bounds._reductions import logmeanexp_offdiagonal
from mibounds.bounds.registry import parse
from mibounds.validation import check_probability, check_scores

__all__ = ["DV", "JS", "MINE", "NWJ", "SMILE", "TUBA", "Bound", "InfoNCE", "Interpolated", "make"]


class Bound(nn.Module):
    """A score-based bound of the registry as a module: ``forward(scores, log_baseline=None)``.

    Args:
        name: A registry name with ``"scores"`` among its needs (see :func:`mibounds.bounds.names`),
            optionally with a parameter (``"smile:5"``, see :func:`mibounds.bounds.parse`).
        **params: Hyper-parameters overriding the registry defaults (e.g. ``alpha=0.9``).

    Example:
        >>> import torch
        >>> bound = Bound("interpolated", alpha=0.9)
        >>> bound(torch.zeros(8, 8), log_baseline=torch.zeros(8)).shape
        torch.Size([])
    """

    def __init__(self, name: str, **params: Any) -> None:
        super().__init__()
        info, params = parse(name, **params)
        if not info.score_based:
            raise ValueError(
                f"bound {info.name!r} needs {', '.join(info.needs)}, not a critic's scores; "
                f"call mibounds.bounds.{info.name}(...) directly"
            )
        unknown = sorted(set(params) - set(info.params))
        if unknown:
            allowed = ", ".join(info.params) or "none"
            raise ValueError(
                f"bound {info.name!r} has no parameter {', '.join(map(repr, unknown))}; its parameters: {allowed}"
            )
        self.info = info
        self.params = {**info.params, **params}

    @property
    def name(self) -> str:
        """The registry name."""
        return self.info.name

    @property
    def needs_baseline(self) -> bool:
        """True when ``forward`` requires ``log_baseline``."""
        return "log_baseline" in self.info.needs

    def ceiling(self, batch_size: int) -> float | None:
        """Largest value the estimate can take on a batch of K = ``batch_size`` pairs (None if unbounded)."""
        return self.info.ceiling_for(batch_size, **self.params)

    def forward(self, scores: Tensor, log_baseline: Tensor | float | None = None) -> Tensor:
        """The bound on ``scores`` ``[K, K]`` (value in nats, training gradient)."""
        if self.needs_baseline:
            if log_baseline is None:
                raise ValueError(
                    f"bound {self.name!r} needs log_baseline (log a(y): a scalar or [K]); "
                    "pass e.g. a critics.MLPBaseline's output, or 0.0"
                )
            return self.info.fn(scores, log_baseline, **self.params)
        if log_baseline is not None:
            raise ValueError(f"bound {self.name!r} takes no log_baseline")
        return self.info.fn(scores, **self.params)

    def extra_repr(self) -> str:
        return ", ".join([repr(self.name)] + [f"{k}={v!r}" for k, v in self.params.items()])


class TUBA(Bound):
    """:func:`mibounds.bounds.tuba` as a module; ``forward(scores, log_baseline)``."""

    def __init__(self) -> None:
        super().__init__("tuba")


class NWJ(Bound):
    """:func:`mibounds.bounds.nwj` as a module."""

    def __init__(self) -> None:
        super().__init__("nwj")


class DV(Bound):
    """:func:`mibounds.bounds.dv` as a module."""

    def __init__(self) -> None:
        super().__init__("dv")


class JS(Bound):
    """:func:`mibounds.bounds.js` as a module (JS gradient, NWJ value on scores + 1)."""

    def __init__(self) -> None:
        super().__init__("js")


class InfoNCE(Bound):
    """:func:`mibounds.bounds.infonce` as a module."""

    def __init__(self, symmetric: bool = False) -> None:
        super().__init__("infonce", symmetric=symmetric)


class SMILE(Bound):
    """:func:`mibounds.bounds.smile` as a module."""

    def __init__(self, clip: float | None = 5.0) -> None:
        super().__init__("smile", clip=clip)


class Interpolated(Bound):
    """:func:`mibounds.bounds.interpolated` as a module; ``forward(scores, log_baseline)``."""

    def __init__(self, alpha: float = 0.5) -> None:
        super().__init__("interpolated", alpha=check_probability(alpha, "alpha"))


class MINE(Bound):
    r"""MINE with its moving average of the partition function (a buffer).

    In training mode with gradients enabled, each call first updates

    .. math::
        m \leftarrow (1 - \text{rate})\, m + \text{rate}\cdot \mathrm{mean}_{i\ne j} e^{S_{ij}}

    (in log space; the first batch initializes it), then returns
    :func:`mibounds.bounds.mine` with that average. Evaluation calls leave it untouched. The value is
    DV either way.

    Args:
        rate: Weight of the newest batch in the moving average, in (0, 1].
    """

    log_moving_average: Tensor

    def __init__(self, rate: float = 0.01) -> None:
        rate = check_probability(rate, "rate", allow_zero=False)
        super().__init__("mine", rate=rate)
        self.register_buffer("log_moving_average", torch.tensor(math.nan, dtype=torch.float64))

    def forward(self, scores: Tensor, log_baseline: Tensor | float | None = None) -> Tensor:
        """The MINE bound on ``scores`` ``[K, K]``, updating the moving average when training."""
        if log_baseline is not None:
            raise ValueError("bound 'mine' takes no log_baseline")
        log_m = self.log_moving_average
        if self.training and torch.is_grad_enabled():
            with torch.no_grad():
                batch = logmeanexp_offdiagonal(check_scores(scores)).to(log_m)
                rate = self.params["rate"]
                if torch.isnan(log_m):
                    log_m.copy_(batch)
                else:
                    log_m.copy_(torch.logaddexp(log_m + math.log1p(-rate), batch + math.log(rate)))
        if torch.isnan(log_m):  # never trained: the plain DV gradient
            return lower.mine(scores, logmeanexp_offdiagonal(scores).detach())
        return lower.mine(scores, log_m)


_MODULES: dict[str, type[Bound]] = {"mine": MINE}


def make(name: str, **params: Any) -> Bound:
    """The module of a score-based bound: :class:`MINE` for ``"mine"``, :class:`Bound` otherwise.

    ``name`` may carry a parameter (``"smile:5"``, see :func:`mibounds.bounds.parse`).
    """
    info, params = parse(name, **params)
    cls = _MODULES.get(info.name)
    return cls(**params) if cls is not None else Bound(info.name, **params)
