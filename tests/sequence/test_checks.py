"""Each public call checks its inputs once; no module imports a non-public name of a public module.

``check_emissions`` holds a host-synchronizing ``.any()`` (the lengths' range) once lengths are a
tensor: the objectives used to run it up to three times on one tensor (once themselves, then in
each public function they called). They now check once and call the unchecked computations of
:mod:`mibounds.sequence._expanded` and :mod:`mibounds.sequence._pairs`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import mibounds.sequence as seq
from mibounds.sequence import _checks

K, T, L = 4, 5, 3
GRAPH = seq.bigram_graph([[0, 1, 2, 2, 1, 0]], num_labels=L)
PHI = torch.randn(K, T, L, generator=torch.Generator().manual_seed(0))
LABELS = torch.randint(0, L, (K, T), generator=torch.Generator().manual_seed(1))

Call = Callable[[torch.Tensor, torch.Tensor | None], object]

CALLS: dict[str, Call] = {
    "log_partition": lambda e, n: seq.log_partition(e, GRAPH, n),
    "sequence_score": lambda e, n: seq.sequence_score(e, LABELS, n),
    "path_score": lambda e, n: seq.path_score(e, GRAPH, LABELS, n),
    "forward_backward": lambda e, n: seq.forward_backward(e, GRAPH, n),
    "pairwise_log_partition": lambda e, n: seq.pairwise_log_partition(e, GRAPH, n),
    "pairwise_log_partition other": lambda e, n: seq.pairwise_log_partition(e, GRAPH, n, other=2 * e),
    "sequence_infonce joint": lambda e, n: seq.sequence_infonce(e, GRAPH, n),
    "sequence_infonce joint other": lambda e, n: seq.sequence_infonce(e, GRAPH, n, other=2 * e),
    "sequence_infonce fixed": lambda e, n: seq.sequence_infonce(e, GRAPH, n, posterior="fixed"),
    "sequence_infonce learned other": lambda e, n: seq.sequence_infonce(e, GRAPH, n, other=2 * e, posterior="learned"),
    "mmi": lambda e, n: seq.mmi(e, GRAPH, LABELS, n),
    "mmi include_prior": lambda e, n: seq.mmi(e, GRAPH, LABELS, n, include_prior=True),
    "pseudo_label_mmi": lambda e, n: seq.pseudo_label_mmi(e, GRAPH, n, posterior_emissions=2 * e),
    "pseudo_label_mmi posterior_graph": lambda e, n: seq.pseudo_label_mmi(
        e, GRAPH, n, posterior_emissions=2 * e, posterior_graph=seq.fully_connected_graph(L)
    ),
    "SequenceInfoNCE learned": lambda e, n: seq.SequenceInfoNCE(GRAPH, "learned")(e, n),
    "MMI": lambda e, n: seq.MMI(GRAPH, include_prior=True)(e, LABELS, n),
    "PseudoLabelMMI": lambda e, n: seq.PseudoLabelMMI(GRAPH)(e, 2 * e, n),
}
WITH_LABELS = {"sequence_score", "path_score", "mmi", "mmi include_prior", "MMI"}


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """What the checks ran on, wherever a sequence module imported them, and their host syncs."""
    seen: dict[str, list] = {"check_emissions": [], "check_labels": [], "syncs": []}
    syncs = [0]
    to_bool = torch.Tensor.__bool__

    def counting_bool(self: torch.Tensor) -> bool:
        syncs[0] += 1
        return to_bool(self)

    def counting(name: str) -> Callable[..., torch.Tensor]:
        original = getattr(_checks, name)

        def check(first: torch.Tensor, *args: object) -> torch.Tensor:
            seen[name].append(first)
            before = syncs[0]
            out = original(first, *args)
            seen["syncs"].append(syncs[0] - before)
            return out

        return check

    monkeypatch.setattr(torch.Tensor, "__bool__", counting_bool)
    modules = [m for name, m in sys.modules.items() if name.startswith("mibounds.sequence")]
    for name in ("check_emissions", "check_labels"):
        wrapper = counting(name)
        for module in modules:
            if hasattr(module, name):
                monkeypatch.setattr(module, name, wrapper)
    return seen


@pytest.mark.parametrize("lengths", [None, torch.tensor([5, 3, 5, 1])], ids=["no lengths", "ragged"])
@pytest.mark.parametrize("name", list(CALLS))
def test_each_public_call_checks_its_emissions_once(name: str, lengths: torch.Tensor | None, checked: dict) -> None:
    emissions = PHI.clone().requires_grad_()
    CALLS[name](emissions, lengths)
    assert len(checked["check_emissions"]) == 1
    assert checked["check_emissions"][0] is emissions
    labels_checked = 1 if name in WITH_LABELS else 0
    assert len(checked["check_labels"]) == labels_checked
    # The checks' host syncs: the lengths' range (given lengths) and the labels' range, once each.
    assert sum(checked["syncs"]) == (lengths is not None) + labels_checked


def test_a_separate_posterior_graph_must_have_the_labels_of_the_emissions() -> None:
    with pytest.raises(ValueError, match="posterior_emissions have 3 label scores per frame but posterior_graph has 4"):
        seq.pseudo_label_mmi(PHI, GRAPH, posterior_emissions=PHI, posterior_graph=seq.fully_connected_graph(4))


def test_no_module_imports_a_non_public_name_of_a_public_module() -> None:
    # Public: listed in the module's __all__, or a submodule. Private modules (_expanded.py, ...)
    # hold what several modules share.
    package = Path(seq.__file__).parent
    found = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("mibounds"):
                continue
            assert node.module is not None
            if any(part.startswith("_") for part in node.module.split(".")):
                continue
            module = importlib.import_module(node.module)
            public = set(getattr(module, "__all__", ()))
            found += [
                f"{path.name}: {node.module}.{a.name}"
                for a in node.names
                if a.name not in public and not inspect.ismodule(getattr(module, a.name, None))
            ]
    assert not found
