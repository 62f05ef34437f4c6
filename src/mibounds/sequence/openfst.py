r"""Read and write label graphs in the OpenFst text format (``fstcompile`` / ``fstprint``).

Format, one item per line, fields separated by spaces or tabs:

- arc: ``src dst ilabel olabel [weight]`` (with ``acceptor=True``: ``src dst label [weight]``);
- final state: ``state [weight]``.

The source state of the first line is the start state. A missing weight means the semiring's
one, cost 0.

**Weight sign convention.** OpenFst's tropical and log semirings store *costs*, negated natural
logs: an arc of probability p has weight :math:`-\ln p`. A :class:`~mibounds.sequence.graph.LabelGraph`
stores log-weights :math:`\ln p`, so reading negates every weight and writing negates it back
(``Infinity`` is cost :math:`+\infty`, log-weight :math:`-\infty`). Graphs written with costs in
another base (e.g. :math:`\log_{10}` from ARPA tools) must be converted before reading.

**Labels.** Label 0 is epsilon in OpenFst, and a label graph consumes one label per frame, so graph
label l is written as ``l + label_offset`` (default offset 1, Kaldi's convention of 1-based
transition or pdf labels) and an arc with label 0 is refused on reading. Only one side is used:
the input label by default (e.g. transition ids of a Kaldi HCLG), or the output label. States
need not be consecutive; unused numbers become unreachable states.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from typing import Literal, TextIO

import torch

from mibounds.sequence.graph import LabelGraph
from mibounds.validation import unknown_name_error

__all__ = ["read_openfst", "write_openfst"]


def _parse_weight(text: str, where: str) -> float:
    try:
        cost = float(text)
    except ValueError:
        raise ValueError(
            f"{where}: weight {text!r} is not a number; OpenFst text weights are costs like 0.693 or Infinity"
        ) from None
    if math.isnan(cost) or cost == -math.inf:
        raise ValueError(f"{where}: weight {text!r} is not a valid cost (NaN or -Infinity)")
    return -cost


def _lines(source: str | os.PathLike | TextIO) -> Iterator[str]:
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8") as handle:
            yield from handle
    else:
        yield from source


def read_openfst(
    source: str | os.PathLike | TextIO,
    *,
    num_labels: int | None = None,
    label_offset: int = 1,
    acceptor: bool = False,
    labels: Literal["input", "output"] = "input",
    dtype: torch.dtype | None = None,
) -> LabelGraph:
    """Read an OpenFst text-format graph (a path or an open text stream).

    Args:
        source: File path, or a text stream such as ``io.StringIO(text)``.
        num_labels: Number of graph labels L; default one more than the largest label read.
        label_offset: Subtracted from every file label (1: file label 1 is graph label 0).
        acceptor: Arc lines have one label (``fstcompile --acceptor``).
        labels: Which label side of a transducer arc to use, ``"input"`` or ``"output"``.
        dtype: Floating dtype of the weights.

    Returns:
        The graph, with log-weights = negated costs.

    Raises:
        ValueError: On a malformed line, an epsilon (label below the offset), or an empty file.

    Example:
        >>> import io
        >>> g = read_openfst(io.StringIO("0 1 1 1 0.5\\n1 1 2 2\\n1 0.0\\n"))
        >>> g.num_states, g.num_labels, g.weight.tolist()
        (2, 2, [-0.5, 0.0])
    """
    if labels not in ("input", "output"):
        raise unknown_name_error("label side", labels, ["input", "output"])
    arc_fields = (3, 4) if acceptor else (4, 5)
    side = 2 if acceptor or labels == "input" else 3
    arcs: list[tuple[int, int, int, float]] = []
    final: dict[int, float] = {}
    start: int | None = None
    for number, line in enumerate(_lines(source), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"line {number} ({line.strip()!r})"
        try:
            states = [int(f) for f in fields[:2]] if len(fields) in arc_fields else [int(fields[0])]
        except ValueError:
            raise ValueError(f"{where}: states must be non-negative integers") from None
        if min(states) < 0:
            raise ValueError(f"{where}: states must be non-negative integers")
        if start is None:
            start = states[0]
        if len(fields) in arc_fields:
            try:
                file_label = int(fields[side])
            except ValueError:
                raise ValueError(
                    f"{where}: labels must be integers (symbol tables are not supported; print with numeric labels)"
                ) from None
            if file_label < label_offset:
                raise ValueError(
                    f"{where}: label {file_label} maps below graph label 0 with label_offset={label_offset}; "
                    "label 0 is epsilon, and a label graph consumes one label per frame, so remove epsilons "
                    "first (e.g. fstrmepsilon) or pass the right label_offset"
                )
            weight = _parse_weight(fields[arc_fields[1] - 1], where) if len(fields) == arc_fields[1] else 0.0
            arcs.append((states[0], states[1], file_label - label_offset, weight))
        elif len(fields) in (1, 2):
            weight = _parse_weight(fields[1], where) if len(fields) == 2 else 0.0
            if weight != -math.inf:
                final[states[0]] = weight
        else:
            kind = "acceptor arcs 'src dst label [weight]'" if acceptor else "arcs 'src dst ilabel olabel [weight]'"
            raise ValueError(f"{where}: expected {kind} or final states 'state [weight]', got {len(fields)} fields")
    if start is None:
        raise ValueError("the OpenFst text is empty: no arcs and no final states")
    if not final:
        raise ValueError("the OpenFst text has no final state (lines 'state [weight]'); a graph needs one")
    return LabelGraph.from_arcs(arcs, start=start, final=final, num_labels=num_labels, dtype=dtype)


def _format_cost(log_weight: float) -> str:
    cost = -log_weight
    return "Infinity" if cost == math.inf else repr(cost + 0.0)  # + 0.0 turns -0.0 into 0.0


def write_openfst(
    graph: LabelGraph,
    target: str | os.PathLike | TextIO | None = None,
    *,
    label_offset: int = 1,
    acceptor: bool = False,
) -> str:
    """Write ``graph`` in the OpenFst text format; return the text (and write it to ``target``).

    A graph with several start states, or a non-zero start weight, is first made equivalent to
    one with a single start state (:meth:`LabelGraph.with_single_start`). Arcs leaving the start
    state come first; weights are written as costs with full precision, so reading the text back
    gives the same graph.

    Args:
        graph: The graph.
        target: Optional file path or text stream.
        label_offset: Added to every graph label (1 keeps label 0 free for epsilon).
        acceptor: Write one label per arc (``fstcompile --acceptor``) instead of ``ilabel olabel``.

    Returns:
        The text.

    Example:
        >>> from mibounds.sequence import fully_connected_graph
        >>> print(write_openfst(fully_connected_graph(2, normalized=False)), end="")
        0 0 1 1 0.0
        0 0 2 2 0.0
        0 0.0
    """
    graph = graph.with_single_start()
    start = graph.start_states()[0]
    src, dst, lab = graph.src.tolist(), graph.dst.tolist(), graph.label.tolist()
    weight = graph.weight.tolist()
    order = sorted(range(graph.num_arcs), key=lambda a: src[a] != start)  # stable: start arcs first
    lines = []
    for a in order:
        label = str(lab[a] + label_offset)
        labels = label if acceptor else f"{label} {label}"
        lines.append(f"{src[a]} {dst[a]} {labels} {_format_cost(weight[a])}")
    finals = [(s, w) for s, w in enumerate(graph.final.tolist()) if w != -math.inf]
    finals.sort(key=lambda item: item[0] != start)
    if not order and finals[0][0] != start:
        # No arcs: the start state must still appear first; a non-final one is written as final
        # with cost Infinity (weight zero), which reads back as not final.
        lines.append(f"{start} Infinity")
    lines.extend(f"{s} {_format_cost(w)}" for s, w in finals)
    text = "\n".join(lines) + "\n"
    if isinstance(target, (str, os.PathLike)):
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
    elif target is not None and (isinstance(target, io.TextIOBase) or hasattr(target, "write")):
        target.write(text)
    return text
