"""One way to make a figure: write_figure (Agg canvas, shared style, PNG at the fixed DPI, closed)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from mibounds.experiments.figures import DPI, STYLE, make_figure, write_figure

ROOT = Path(__file__).resolve().parents[2]


def test_write_figure_writes_a_png_at_the_fixed_dpi_with_the_style_and_closes_it(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib", reason="figures need the 'plot' extra")
    from matplotlib.image import imread

    seen = {}

    def draw(fig) -> None:
        seen["fig"] = fig
        seen["style"] = {name: matplotlib.rcParams[name] for name in STYLE}
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1])

    before = {name: matplotlib.rcParams[name] for name in STYLE}
    path = write_figure(tmp_path / "sub" / "line.png", draw, (3.0, 2.0))
    assert path == tmp_path / "sub" / "line.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(path).shape[:2] == (2 * DPI, 3 * DPI)
    assert seen["style"] == {name: matplotlib.rcParams.validate[name](value) for name, value in STYLE.items()}
    assert {name: matplotlib.rcParams[name] for name in STYLE} == before  # the user's settings are back
    assert seen["fig"].axes == []  # closed: its artists are released


def test_make_figure_gives_the_figure_unwritten() -> None:
    pytest.importorskip("matplotlib", reason="figures need the 'plot' extra")
    fig = make_figure(lambda fig: fig.subplots(1, 2), (4.0, 2.0), layout="constrained")
    assert len(fig.axes) == 2 and tuple(fig.get_size_inches()) == (4.0, 2.0)
    assert all(ax.xaxis.get_gridlines() for ax in fig.axes)


def test_write_figure_refuses_another_format_and_needs_matplotlib(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match=r"figures are written as PNG; give a path ending in \.png"):
        write_figure(tmp_path / "line.pdf", lambda fig: None, (3.0, 2.0))
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    with pytest.raises(ImportError, match=r"pip install 'mibounds\[plot\]'"):
        write_figure(tmp_path / "line.png", lambda fig: None, (3.0, 2.0))
    assert not (tmp_path / "line.png").exists()


def test_every_figure_is_made_by_write_figure() -> None:
    # No study (nor example) builds a Figure, picks a DPI or saves a file itself.
    pattern = re.compile(r"savefig|Figure\(|pyplot|dpi\s*=")
    files = [*(ROOT / "src" / "mibounds").rglob("*.py"), *(ROOT / "examples").glob("*.py")]
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in files
        if path.name != "figures.py" and pattern.search(path.read_text(encoding="utf-8"))
    )
    assert offenders == [], offenders
