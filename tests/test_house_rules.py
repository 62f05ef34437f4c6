"""House rules a tool checks instead of a reviewer (docs/design.md §4).

Each rule is a function over a source root (the folder that holds the ``mibounds`` package) that
returns its violations as ``"path:line: message"`` strings, each message naming the fix:

- :func:`long_modules`: no Python file over :data:`MAX_LINES` lines;
- :func:`private_imports`: no private module or private name of one top-level subpackage imported
  from another one (``mibounds.bounds._blocked`` from ``mibounds.representation``); within a
  subpackage they are fine, and so are the package-wide private modules at the top level
  (``mibounds._progress``);
- :func:`bare_asserts`: no ``assert`` statement in library code (``python -O`` strips them);
- :func:`long_functions`: no function of the estimation engine (``mibounds/estimation``) over
  :data:`MAX_FUNCTION_LINES` lines of code (docstring, blank lines and comments not counted): its
  stages stay small enough to read at once;
- :func:`unresolvable_references`: no reference a reader of the package cannot follow in the text
  of ``src/``, ``docs/`` and ``examples/``: a path into ``../shared`` (outside the repository), a
  ``DESIGN.md`` (the design document is ``docs/design.md``, in lower case), or an "issue N" (the
  issue tracker is not part of the package; say what the thing is instead). This one runs over
  the repository root rather than the source root.

Each function is tested on a small tree that breaks its rule, then run on the real tree.
The layering itself (which subpackage may import which) is checked by import-linter: the
``[tool.importlinter]`` contracts in pyproject.toml, run by ``.ci/run``; a test here checks that
each module expression of those contracts still matches a module.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "mibounds"

#: The most lines a module may have; a longer one is split by concern.
MAX_LINES = 600

#: The most lines of code a function of the estimation engine may have.
MAX_FUNCTION_LINES = 60

#: The folders of the repository whose text a reader of the package sees.
READER_FOLDERS = ("src", "docs", "examples")

#: What a reader cannot resolve, each with the fix the violation names.
UNRESOLVABLE = (
    (
        re.compile(r"\.\./shared"),
        "a path outside the repository; cite the work itself, or move what is needed into the repository",
    ),
    (
        re.compile(r"design\.md", re.IGNORECASE),
        "the design document is docs/design.md (lower case); cite it with its section, e.g. docs/design.md §2",
    ),
    (
        re.compile(r"\bissues?\s+#?\d+", re.IGNORECASE),
        "an issue number means nothing to a reader of the package; say what the thing is instead",
    ),
)


def _python_files(root: Path) -> Iterator[Path]:
    yield from sorted(root.rglob("*.py"))


def _where(path: Path, root: Path, line: int) -> str:
    return f"{path.relative_to(root.parent).as_posix()}:{line}"


def long_modules(root: Path, max_lines: int = MAX_LINES) -> list[str]:
    """Python files under ``root`` with more than ``max_lines`` lines.

    Args:
        root: The source root (``src/``).
        max_lines: The cap.

    Returns:
        One ``"path:line: message"`` per file over the cap, ``line`` being its first line past it.
    """
    violations = []
    for path in _python_files(root):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > max_lines:
            violations.append(
                f"{_where(path, root, max_lines + 1)}: {lines} lines, over the cap of {max_lines}; "
                "split the module by concern (a helper module or a subpackage)"
            )
    return violations


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """The dotted name of the module at ``path``, and whether it is a package (``__init__.py``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every dotted name an ``import`` brings in: ``pkg.mod`` for ``import pkg.mod``, and
    ``pkg.mod.name`` for ``from pkg.mod import name`` (relative imports resolved)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{source}.{alias.name}"


def private_imports(root: Path, package: str = PACKAGE) -> list[str]:
    """Imports of a private module or name of one top-level subpackage from another one.

    ``mibounds.<a>._mod`` and ``from mibounds.<a>.mod import _name`` are private to ``mibounds.<a>``:
    modules of ``<a>`` may import them, modules of another subpackage ``<b>`` may not. Private
    modules directly under ``mibounds`` (``mibounds._progress``) are package-wide helpers and may
    be imported from anywhere.

    Args:
        root: The source root (``src/``).
        package: The top-level package whose subpackages are checked.

    Returns:
        One ``"path:line: message"`` per offending import.
    """
    violations = []
    for path in _python_files(root / package):
        module, is_package = _module_name(path, root)
        importer = module.split(".")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in _imported_names(tree, module, is_package):
            parts = name.split(".")
            if len(parts) < 3 or parts[0] != package or _is_private(parts[1]):
                continue  # outside the package, the package itself, or a package-wide helper
            owner = parts[1]
            if len(importer) > 1 and importer[1] == owner:
                continue  # within the same subpackage
            private = next((part for part in parts[2:] if _is_private(part)), None)
            if private is not None:
                violations.append(
                    f"{_where(path, root, line)}: imports {name}, private to {package}.{owner}; "
                    f"make {private} public there (a plain name with a docstring, in __all__) or move "
                    "what it provides into the importing subpackage"
                )
    return violations


def bare_asserts(root: Path) -> list[str]:
    """``assert`` statements in library code under ``root``.

    Args:
        root: The source root (``src/``).

    Returns:
        One ``"path:line: message"`` per ``assert``.
    """
    violations = []
    for path in _python_files(root):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        violations.extend(
            f"{_where(path, root, node.lineno)}: assert in library code (python -O removes it); raise "
            "ValueError/TypeError for bad input or RuntimeError for a broken invariant, or restructure "
            "so a type checker needs no assert"
            for node in ast.walk(tree)
            if isinstance(node, ast.Assert)
        )
    return violations


def long_functions(root: Path, max_lines: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions under ``root`` with more than ``max_lines`` lines of code.

    Args:
        root: A source folder (``src/mibounds/estimation``).
        max_lines: The cap on lines that are not blank, a comment or the docstring.

    Returns:
        One ``"path:line: message"`` per function over the cap.
    """
    violations = []
    for path in _python_files(root):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = node.body
            if ast.get_docstring(node) is not None:
                body = body[1:]
            if not body:
                continue
            code = [line for line in lines[body[0].lineno - 1 : node.end_lineno] if line.strip()]
            count = sum(not line.lstrip().startswith("#") for line in code)
            if count > max_lines:
                violations.append(
                    f"{_where(path, root, node.lineno)}: {node.name} has {count} lines of code (at most "
                    f"{max_lines}); split it into named steps"
                )
    return violations


def _text_files(folder: Path) -> Iterator[Path]:
    """Every file under ``folder`` that is UTF-8 text (figures and caches are skipped)."""
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        yield path


def unresolvable_references(root: Path, folders: tuple[str, ...] = READER_FOLDERS) -> list[str]:
    """References in the text under ``root``'s ``folders`` that a reader of the package cannot follow.

    A ``../shared`` path, any spelling of ``design.md`` but the lower-case one, and "issue N"
    (``issue 4``, ``Issues #10``), wherever they appear: code, docstrings, comments, Markdown.

    Args:
        root: The repository root.
        folders: The folders under it to check (missing ones are skipped).

    Returns:
        One ``"path:line: message"`` per occurrence.
    """
    violations = []
    for folder in folders:
        if not (root / folder).is_dir():
            continue
        for path in _text_files(root / folder):
            lines = path.read_text(encoding="utf-8").splitlines()
            for number, line in enumerate(lines, start=1):
                for pattern, fix in UNRESOLVABLE:
                    for match in pattern.finditer(line):
                        if match.group() == "design.md":
                            continue  # the repository's own docs/design.md
                        violations.append(f"{_where(path, root / folder, number)}: {match.group()!r}: {fix}")
    return violations


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- each rule on a tree that breaks it --------------------------------------------------------


def test_a_module_over_the_cap_is_reported_and_one_at_the_cap_is_not(tmp_path: Path) -> None:
    _write(tmp_path, "mibounds/bounds/at_cap.py", "x = 1\n" * MAX_LINES)
    _write(tmp_path, "mibounds/bounds/over_cap.py", "x = 1\n" * (MAX_LINES + 1))
    assert long_modules(tmp_path) == [
        f"{tmp_path.name}/mibounds/bounds/over_cap.py:601: 601 lines, over the cap of 600; "
        "split the module by concern (a helper module or a subpackage)"
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "from mibounds.bounds._blocked import partition_terms",
        "import mibounds.bounds._blocked",
        "from mibounds.bounds import _blocked",
        "from mibounds.bounds.lower import _helper",
        "from ..bounds._blocked import partition_terms",
        "from ..bounds.lower import (\n    infonce,\n    _helper,\n)",
        "def f():\n    from mibounds.bounds._blocked import partition_terms",
    ],
)
def test_a_private_import_across_subpackages_is_reported(tmp_path: Path, statement: str) -> None:
    _write(tmp_path, "mibounds/representation/losses.py", f'"""Losses."""\n\n{statement}\n')
    (violation,) = private_imports(tmp_path)
    assert violation.startswith(f"{tmp_path.name}/mibounds/representation/losses.py:")
    assert "private to mibounds.bounds; make _" in violation


@pytest.mark.parametrize(
    ("path", "statement"),
    [
        ("mibounds/bounds/chunked.py", "from mibounds.bounds._blocked import partition_terms"),
        ("mibounds/bounds/chunked.py", "from ._blocked import partition_terms"),
        ("mibounds/bounds/__init__.py", "from ._blocked import _helper"),
        ("mibounds/experiments/staircase/run.py", "from mibounds.experiments.grid import _cell_id"),
        ("mibounds/experiments/staircase/run.py", "from .._private import helper"),
        ("mibounds/estimation/training.py", "from mibounds._progress import progress_bar"),
        ("mibounds/estimation/training.py", "from mibounds import _progress, __version__"),
        ("mibounds/estimation/training.py", "from mibounds.bounds import infonce"),
        ("mibounds/estimation/training.py", "from numpy import _private"),
    ],
)
def test_a_private_import_within_a_subpackage_or_of_a_package_wide_helper_is_allowed(
    tmp_path: Path, path: str, statement: str
) -> None:
    _write(tmp_path, path, f"{statement}\n")
    assert private_imports(tmp_path) == []


def test_an_assert_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, "mibounds/tasks/base.py", '"""Tasks.\n\n>>> assert True\n"""\n\n\ndef f(x):\n    assert x > 0\n')
    (violation,) = bare_asserts(tmp_path)
    assert violation.startswith(f"{tmp_path.name}/mibounds/tasks/base.py:8: assert in library code")


@pytest.mark.parametrize(
    ("path", "text", "where"),
    [
        ("src/mibounds/sequence/objectives.py", '"""The convention (see DESIGN.md)."""\n', ":1: 'DESIGN.md'"),
        ("docs/sequence.md", "# Sequences\n\nAs in [the design](../DESIGN.md).\n", ":3: 'DESIGN.md'"),
        ("docs/sequence.md", "# Sequences\n\nSee Design.md.\n", ":3: 'Design.md'"),
        ("docs/sequence.md", "# Sequences\n\nThe text is ../shared/seed.md.\n", ":3: '../shared'"),
        ("examples/run.py", "import math\n\nx = 1  # issue 10, item 4\n", ":3: 'issue 10'"),
        ("src/mibounds/experiments/__init__.py", '"""The sweep (Issue 4, item 5)."""\n', ":1: 'Issue 4'"),
        ("docs/accuracy.md", "Fixed in issues #12 and 13.\n", ":1: 'issues #12'"),
    ],
)
def test_an_unresolvable_reference_is_reported(tmp_path: Path, path: str, text: str, where: str) -> None:
    _write(tmp_path, path, text)
    (violation,) = unresolvable_references(tmp_path)
    assert violation.startswith(f"{path}{where}: ")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("src/mibounds/bounds/lower.py", '"""Conventions (docs/design.md §2)."""\n'),
        ("docs/architecture.md", "Conventions: [design.md](design.md) §2.\n"),
        ("src/mibounds/estimation/_runtime.py", "def issue_warnings(notes):\n    pass  # issued as warnings\n"),
        ("examples/run.py", "seed = 0  # the seed's job is seeded by the seed alone\n"),
        ("tests/test_cli.py", "# issue 10\n"),  # tests are not text a reader of the package sees
        ("docs/figures/plot.png", "\x89PNG\x00 DESIGN.md"),
    ],
)
def test_resolvable_text_is_not_reported(tmp_path: Path, path: str, text: str) -> None:
    _write(tmp_path, path, text)
    assert unresolvable_references(tmp_path) == []


# -- the real tree -------------------------------------------------------------------------------


def test_no_module_is_over_the_cap() -> None:
    violations = long_modules(SRC)
    assert not violations, "\n".join(violations)


def test_no_private_import_across_subpackages() -> None:
    assert (SRC / PACKAGE / "__init__.py").exists()
    violations = private_imports(SRC)
    assert not violations, "\n".join(violations)


def test_a_function_over_the_cap_is_reported_and_one_at_the_cap_is_not(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    _write(tmp_path, "mibounds/estimation/at.py", f'def at():\n    """Doc."""\n    # why\n{body}')
    _write(tmp_path, "mibounds/estimation/over.py", f"def over():\n{body}    return x0\n")
    (violation,) = long_functions(tmp_path / "mibounds" / "estimation")
    assert violation.startswith("estimation/over.py:1: over has 61 lines of code (at most 60)")


def test_no_function_of_the_estimation_engine_is_over_the_cap() -> None:
    assert long_functions(SRC / PACKAGE / "estimation") == []


def test_no_assert_in_library_code() -> None:
    violations = bare_asserts(SRC)
    assert not violations, "\n".join(violations)


def test_every_module_expression_of_the_import_contracts_matches_a_module() -> None:
    # A wildcard such as "mibounds.**.runner" that matches nothing (a module renamed) would leave
    # its import-linter contract silently checking nothing.
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    modules = {_module_name(path, SRC)[0] for path in _python_files(SRC / PACKAGE)}
    expressions = [
        expression
        for contract in config["contracts"]
        for key in ("source_modules", "forbidden_modules")
        for expression in contract.get(key, [])
        if expression.split(".")[0] == PACKAGE
    ]
    assert expressions
    for expression in expressions:
        pattern = r"\.".join(
            {"*": r"[^.]+", "**": r"[^.]+(?:\.[^.]+)*"}.get(part, re.escape(part)) for part in expression.split(".")
        )
        assert any(re.fullmatch(pattern, name) for name in modules), f"{expression} matches no module under src/"


def test_no_unresolvable_reference_in_src_docs_or_examples() -> None:
    violations = unresolvable_references(ROOT)
    assert not violations, "\n".join(violations)
