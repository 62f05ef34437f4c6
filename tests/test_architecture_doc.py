"""docs/architecture.md matches the tree: every subpackage and module named, no stale path."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "mibounds"
TEXT = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_subpackage_is_named() -> None:
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert len(subpackages) >= 9
    missing = [name for name in subpackages if f"{name}/" not in TEXT]
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_every_public_module_is_named() -> None:
    modules = sorted(p.name for p in PACKAGE.rglob("*.py") if not p.name.startswith("_") and p.parent.name != "cli")
    missing = sorted({name for name in modules if name not in TEXT})
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_no_stale_path() -> None:
    files = {p.name for p in PACKAGE.rglob("*.py")}
    named = set(re.findall(r"\b([a-z_]+\.py)\b", TEXT))
    assert named and not named - files, f"docs/architecture.md names files that do not exist: {named - files}"
    for dotted in re.findall(
        r"`((?:mibounds\.)?(?:experiments|estimation|critics|tasks|bounds|validation)"
        r"(?:\.[a-z_]+)+)",
        TEXT,
    ):
        parts = dotted.removeprefix("mibounds.").split(".")
        # A dotted name is a module, a package, or an attribute of one: its first two parts exist.
        assert (
            (PACKAGE / parts[0] / f"{parts[1]}.py").exists()
            or (PACKAGE / parts[0] / parts[1]).is_dir()
            or hasattr(__import__(f"mibounds.{parts[0]}", fromlist=["_"]), parts[1])
        ), dotted
