"""The staircase figure: per bound, every critic's estimates and their moving average, the truth.

Drawn through :func:`mibounds.experiments.figures.write_figure` like every figure of the package
(:meth:`~mibounds.experiments.staircase.StaircaseResult.save` writes one per task).

Example:
    >>> import numpy as np
    >>> from mibounds.experiments.staircase.figure import ema, figure_size
    >>> ema(np.array([1.0, 1.0, 4.0]), span=3).round(3).tolist()
    [1.0, 1.0, 2.714]
    >>> figure_size(8, columns=4)  # two rows of four panels
    (12.8, 4.8)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CRITIC_COLORS", "StaircasePanel", "draw_staircase", "ema", "figure_size"]

#: Line colours per critic (raw estimates are drawn with the same colour, light).
CRITIC_COLORS: dict[str, str] = {
    "separable": "tab:blue",
    "concat": "tab:orange",
    "bilinear": "tab:purple",
    "conditional": "tab:green",
}
_FALLBACK_COLORS = ("tab:red", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")


def _color(critic: str, index: int) -> str:
    return CRITIC_COLORS.get(critic, _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)])


def ema(values: np.ndarray, span: float = 200.0) -> np.ndarray:
    r"""Exponential moving average along the last axis, with the start-up bias corrected.

    With :math:`a = 2 / (\mathrm{span} + 1)`, entry t is
    :math:`\sum_{s \le t} (1-a)^{t-s} v_s / \sum_{s \le t} (1-a)^{t-s}` (pandas'
    ``ewm(span=span, adjust=True).mean()``, the smoothing of Poole et al. 2019's figures).
    Non-finite values are skipped (they neither update the average nor break it).

    Args:
        values: ``[..., T]``.
        span: The span; the weight of a value halves after about ``0.35 * span`` steps.

    Returns:
        ``[..., T]`` float64, NaN until the first finite value of a series.
    """
    if span < 1:
        raise ValueError(f"span must be >= 1 (a span of 1 is no smoothing), got {span}")
    values = np.asarray(values, dtype=np.float64)
    decay = 1.0 - 2.0 / (span + 1.0)
    out = np.empty_like(values)
    numerator = np.zeros(values.shape[:-1])
    denominator = np.zeros(values.shape[:-1])
    # A loop over time with vector state: every series advances together.
    for t in range(values.shape[-1]):
        v = values[..., t]
        finite = np.isfinite(v)
        numerator = np.where(finite, decay * numerator + np.where(finite, v, 0.0), numerator)
        denominator = np.where(finite, decay * denominator + 1.0, denominator)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., t] = numerator / denominator
    return out


@dataclass(frozen=True)
class StaircasePanel:
    """One panel of :func:`draw_staircase`: the curves of one bound.

    Attributes:
        title: Panel title (the bound's label).
        curves: Per critic name, the raw per-step estimates ``[T]``.
        ceilings: Dashed horizontal lines: label -> value (e.g. ``{"log K": 4.16}``).
    """

    title: str
    curves: Mapping[str, np.ndarray]
    ceilings: Mapping[str, float] = field(default_factory=dict)


def figure_size(num_panels: int, *, columns: int = 4, title: bool = False) -> tuple[float, float]:
    """Width and height (inches) of a staircase figure of ``num_panels`` panels, ``columns`` a row."""
    rows = max(1, math.ceil(num_panels / columns))
    return 3.2 * columns, 2.4 * rows + (0.5 if title else 0.0)


def draw_staircase(
    fig: Any,
    panels: Sequence[StaircasePanel],
    true_mi: np.ndarray,
    *,
    title: str = "",
    span: float = 200.0,
    columns: int = 4,
    ylim: tuple[float, float] | None = None,
) -> None:
    """Draw the staircase figure of Poole et al. 2019 (their fig. 2) on ``fig``: a panel per bound.

    Each panel draws, per critic, the raw estimates (light) and their EMA of span ``span`` (dark),
    the true MI (black) and the bound's ceilings (dashed grey, labelled). Size the figure with
    :func:`figure_size` and make it with :func:`mibounds.experiments.figures.write_figure`.

    Args:
        fig: The empty figure.
        panels: The panels, in reading order.
        true_mi: ``[T]`` true MI per step (nats).
        title: Figure title.
        span: EMA span of the dark curves.
        columns: Panels per row.
        ylim: y range; default ``(-1, max(true_mi) + 3)`` so diverging estimates leave the frame.
    """
    rows = max(1, math.ceil(len(panels) / columns))
    axes = fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
    steps = np.arange(len(true_mi))
    top = float(np.max(true_mi)) + 3.0
    ylim = ylim if ylim is not None else (-1.0, top)
    critics_seen: dict[str, int] = {}
    # Every curve's EMA in one pass (the recursion runs over time, vectorized over curves).
    raw = [values for panel in panels for values in panel.curves.values()]
    smooth = iter(ema(np.stack(raw), span)) if raw else iter(())
    for ax, panel in zip(axes.flat, panels, strict=False):
        for critic, values in panel.curves.items():
            index = critics_seen.setdefault(critic, len(critics_seen))
            color = _color(critic, index)
            ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.4, rasterized=True)
            smoothed = next(smooth)
            ax.plot(steps, smoothed, color=color, linewidth=1.4, label=critic)
            off = np.mean((smoothed < ylim[0]) | (smoothed > ylim[1]))
            if off > 0.5:  # say so, rather than leave an empty-looking panel
                ax.text(
                    0.03,
                    0.9 - 0.1 * index,
                    f"{critic}: EMA off scale {100 * off:.0f}% of steps",
                    transform=ax.transAxes,
                    fontsize=7,
                    color=color,
                )
        ax.plot(steps, true_mi, color="black", linewidth=1.0, label="true MI")
        for label, value in panel.ceilings.items():
            ax.axhline(value, color="0.4", linestyle="--", linewidth=1.0)
            if ylim[0] < value < ylim[1]:
                ax.text(steps[-1], value, f" {label}", fontsize=7, color="0.3", ha="right", va="bottom")
        ax.set_title(panel.title, fontsize=10)
        ax.set_ylim(*ylim)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    for ax in axes[:, 0]:
        ax.set_ylabel("MI (nats)")
    handles, labels = [], []
    for ax in axes.flat[: len(panels)]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    if title:
        fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.03, 1, 0.98 if title else 1))
