"""Tables and figures of the experiments: one way to make each.

Tables are small column-named row lists (:class:`Table`) written as Markdown or CSV without pandas.

Figures are made one way, by :func:`write_figure`: it makes a matplotlib ``Figure`` on an Agg
canvas (no ``pyplot``: the user's backend and pyplot state are never touched), has the study draw
on it with the shared :data:`STYLE` in force, writes it as a PNG at :data:`DPI`, closes it and
returns the path. A study's plotting code is a function ``draw(fig)``; :func:`make_figure` gives
the same figure unwritten (to look at it, or to test what it shows). matplotlib is imported only
when a figure is made, so the experiments run without the ``plot`` extra; call
:func:`require_matplotlib` before long work whose figures will be needed.

Example:
    >>> from mibounds.experiments.figures import Table, write_figure
    >>> table = Table(("bound", "bias"), [("nwj", 0.1234), ("infonce", -1.5)])
    >>> print(table.to_markdown(digits=2, right={"bias"}))
    | bound | bias |
    |---|---:|
    | nwj | 0.12 |
    | infonce | -1.50 |
    <BLANKLINE>
    >>> def draw(fig):
    ...     ax = fig.subplots()
    ...     ax.plot(table.column("bias"), marker="o")
    >>> write_figure("bias.png", draw, size=(3.0, 2.0)).read_bytes()[:4]
    b'\x89PNG'
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mibounds.experiments.outputs import replacing

__all__ = [
    "DPI",
    "STYLE",
    "Table",
    "make_figure",
    "require_matplotlib",
    "short",
    "write_figure",
]

#: Dots per inch of every figure the experiments write: files small enough to commit.
DPI = 100

#: The shared look, as matplotlib rc parameters in force while a figure is drawn and written: a
#: light grid, frameless legends in small type, titles no larger than the text.
STYLE: dict[Any, Any] = {  # matplotlib types the keys as the literal rc names
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": "medium",
    "legend.frameon": False,
    "legend.fontsize": "small",
}

Layout = Literal["constrained", "compressed", "tight"]


# -- tables ------------------------------------------------------------------------------------


def _format(value: Any, digits: int) -> str:
    if isinstance(value, str):
        return value.replace("|", "\\|")  # a bare | would end the Markdown cell
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value != 0 and (abs(value) >= 10 ** (digits + 2) or abs(value) < 10 ** (-digits)):
            return f"{value:.{digits}e}"
        return f"{value:.{digits}f}"
    return str(value)


def short(value: float) -> str:
    """A number for a table cell: 2 decimals up to 1000 in magnitude, 3 significant digits above."""
    return f"{value:.2f}" if abs(value) < 1000 or not math.isfinite(value) else f"{value:.3g}"


@dataclass
class Table:
    """A table: named columns and rows of values (numbers or strings).

    Attributes:
        columns: Column names.
        rows: One tuple per row, in column order.
        title: Optional caption (Markdown output puts it above the table).
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    title: str = ""

    def __post_init__(self) -> None:
        self.columns = tuple(self.columns)
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row has {len(row)} values but the table has {len(self.columns)} columns")

    def column(self, name: str) -> list[Any]:
        """The values of one column."""
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; columns: {', '.join(self.columns)}")
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def where(self, **equal: Any) -> Table:
        """The rows whose columns equal the given values, e.g. ``table.where(bound="infonce")``."""
        index = {name: self.columns.index(name) for name in equal}
        rows = [r for r in self.rows if all(r[i] == equal[n] for n, i in index.items())]
        return Table(self.columns, rows, self.title)

    def to_markdown(
        self, digits: int = 3, *, right: Collection[str] = (), cell: Callable[[Any], str] | None = None
    ) -> str:
        """A GitHub-flavoured Markdown table.

        Args:
            digits: Decimals of floats (with the default ``cell``).
            right: Columns aligned right (``---:``), e.g. the numeric ones.
            cell: Formats one value as cell text (it must escape ``|``); default: floats with
                ``digits`` decimals (scientific when very large or small), text with ``|`` escaped.
        """
        text = cell or (lambda value: _format(value, digits))
        lines = [f"**{self.title}**", ""] if self.title else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---:" if name in right else "---" for name in self.columns) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(text(v) for v in row) + " |")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_csv(cls, path: str | Path, title: str = "") -> Table:
        """Read a table written by :meth:`to_csv` (numbers come back as int or float)."""

        def parse(text: str) -> Any:
            for kind in (int, float):
                try:
                    return kind(text)
                except ValueError:
                    pass
            return text

        with Path(path).open(newline="") as f:
            reader = csv.reader(f)
            columns = next(reader)
            return cls(tuple(columns), [tuple(parse(v) for v in row) for row in reader], title)

    def to_csv(self, path: str | Path, *, cell: Callable[[Any], Any] | None = None) -> Path:
        """Write the table as CSV (UTF-8) and return the path.

        Args:
            path: The file to write.
            cell: Converts one value for the writer; default: as is (floats at full precision).
        """
        path = Path(path)
        rows = self.rows if cell is None else [tuple(cell(v) for v in row) for row in self.rows]
        with replacing(path, newline="") as f:  # a new file moved into place, never through a link
            writer = csv.writer(f)
            writer.writerow(self.columns)
            writer.writerows(rows)
        return path


# -- figures -----------------------------------------------------------------------------------


def require_matplotlib(skip_flag: str | None = None) -> None:
    """Raise ImportError now if matplotlib is missing: call it before the work whose figures it draws.

    Args:
        skip_flag: The option that turns figures off, named in the message (e.g. ``"--no-figures"``).

    Raises:
        ImportError: One line naming the extra to install.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        hint = f" (or pass {skip_flag})" if skip_flag else ""
        raise ImportError(
            f"writing figures needs matplotlib; install it with: pip install 'mibounds[plot]'{hint}"
        ) from None


@contextlib.contextmanager
def _styled_figure(size: tuple[float, float], layout: Layout | None) -> Iterator[Any]:
    """An empty ``Figure`` on an Agg canvas, with :data:`STYLE` in force until the block ends."""
    require_matplotlib()
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):  # the user's rcParams come back when the block ends
        fig = Figure(figsize=size, layout=layout)
        FigureCanvasAgg(fig)
        yield fig


def write_figure(
    path: str | Path, draw: Callable[[Any], object], size: tuple[float, float], *, layout: Layout | None = None
) -> Path:
    """Draw a figure and write it as a PNG: the one way the experiments make a figure.

    Args:
        path: The PNG file to write (its folder is made if needed).
        draw: ``draw(fig)`` draws on the empty matplotlib ``Figure`` (``fig.subplots()``, ...),
            with :data:`STYLE` in force; what it returns is ignored.
        size: ``(width, height)`` in inches.
        layout: matplotlib's layout engine (``"constrained"``, ...), or None (``draw`` may then
            call ``fig.tight_layout()``).

    Returns:
        ``path``, written at :data:`DPI` dots per inch; the figure is closed (cleared) after.

    Raises:
        ValueError: If ``path`` does not end in ``.png``.
        ImportError: Without matplotlib (one line naming the ``plot`` extra); nothing is written.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"figures are written as PNG; give a path ending in .png, got {str(path)!r}")
    with _styled_figure(size, layout) as fig:
        try:
            draw(fig)
            path.parent.mkdir(parents=True, exist_ok=True)
            with replacing(path, binary=True) as handle:  # a new file moved into place, never through a link
                fig.savefig(handle, dpi=DPI, format="png")
        finally:
            fig.clear()
    return path


def make_figure(draw: Callable[[Any], object], size: tuple[float, float], *, layout: Layout | None = None) -> Any:
    """The figure :func:`write_figure` would write, returned instead: to look at it or test it.

    Args:
        draw, size, layout: As for :func:`write_figure`.

    Returns:
        The matplotlib ``Figure`` (on an Agg canvas).
    """
    with _styled_figure(size, layout) as fig:
        draw(fig)
    return fig
