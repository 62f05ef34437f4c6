r"""Label graphs: weighted acceptors over frame labels, and builders for them.

A :class:`LabelGraph` is a weighted finite-state acceptor whose arcs carry a label in
``0 .. num_labels - 1`` and a log-weight. A path consumes exactly one arc per frame (no epsilon
arcs), so a path of length T spells a label sequence :math:`Y = (Y_1, \dots, Y_T)`. The weight of a
path is :math:`\exp(\text{start}(s_0) + \sum_t w(a_t) + \text{final}(s_T))` and the graph's weight of a
label sequence, :math:`G(Y)`, is the sum of the weights of every path that spells it.

Weight convention: every weight stored here is a **natural-log weight** (log of a probability-like
factor; larger is more likely; ``-inf`` means "absent"). OpenFst files store costs, the negated
values (see :mod:`mibounds.sequence.openfst`).

Builders:

- :func:`fully_connected_graph`: every label sequence allowed, optionally with the uniform prior.
- :func:`bigram_graph`: a first-order Markov chain over labels estimated from label sequences with
  additive (Lidstone) smoothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["LabelGraph", "bigram_graph", "fully_connected_graph"]


@dataclass(frozen=True, eq=False)
class LabelGraph:
    r"""A weighted acceptor over labels, consumed one arc per frame.

    Arc ``a`` goes from state ``src[a]`` to ``dst[a]``, emits label ``label[a]`` and has log-weight
    ``weight[a]``. ``start[s]`` and ``final[s]`` are the log start and final weights of state ``s``
    (``-inf`` where a state is not a start or final state). Parallel arcs (same source,
    destination and label) are allowed: their weights add in probability space.

    Attributes:
        num_states: Number of states S.
        num_labels: Number of labels L (the width of the emission scores).
        src: ``[A]`` long, source state of each arc.
        dst: ``[A]`` long, destination state of each arc.
        label: ``[A]`` long, label of each arc.
        weight: ``[A]`` floating, natural-log weight of each arc.
        start: ``[S]`` floating, log start weights.
        final: ``[S]`` floating, log final weights.

    Example:
        >>> g = LabelGraph.from_arcs([(0, 0, 0, 0.0), (0, 0, 1, 0.0)], start=0, final=[0])
        >>> g.num_states, g.num_labels, g.num_arcs
        (1, 2, 2)
    """

    num_states: int
    num_labels: int
    src: Tensor
    dst: Tensor
    label: Tensor
    weight: Tensor
    start: Tensor
    final: Tensor

    def __post_init__(self) -> None:
        s, n_lab = int(self.num_states), int(self.num_labels)
        if s < 1 or n_lab < 1:
            raise ValueError(
                f"a label graph needs at least one state and one label, got num_states={s}, num_labels={n_lab}"
            )
        n_arcs = self.src.shape[0] if self.src.dim() == 1 else -1
        for name in ("src", "dst", "label", "weight"):
            t = getattr(self, name)
            if t.dim() != 1 or t.shape[0] != n_arcs:
                raise ValueError(
                    f"src, dst, label and weight must be 1-d with one entry per arc; {name} has shape "
                    f"{tuple(t.shape)} but src has shape {tuple(self.src.shape)}"
                )
        for name, bound in (("src", s), ("dst", s), ("label", n_lab)):
            t = getattr(self, name)
            if t.dtype != torch.long:
                raise TypeError(f"{name} must be a long tensor of indices, got {t.dtype}; call .long()")
            if n_arcs and (int(t.min()) < 0 or int(t.max()) >= bound):
                raise ValueError(
                    f"{name} holds values outside [0, {bound}) (min {int(t.min())}, max {int(t.max())}); "
                    f"pass {'labels' if name == 'label' else 'states'} numbered from 0"
                )
        for name in ("start", "final"):
            t = getattr(self, name)
            if t.shape != (s,):
                raise ValueError(f"{name} must have one log-weight per state, shape [{s}], got {tuple(t.shape)}")
        for name in ("weight", "start", "final"):
            t = getattr(self, name)
            if not torch.is_floating_point(t):
                raise TypeError(f"{name} must be floating point, got {t.dtype}; call .float()")
            if bool(torch.isnan(t).any()) or bool((t == math.inf).any()):
                raise ValueError(f"{name} holds NaN or +inf log-weights; use finite values, or -inf for 'absent'")
        if not bool(torch.isfinite(self.start).any()):
            raise ValueError(
                "the graph has no start state (every start log-weight is -inf); give one state a finite start weight"
            )
        if not bool(torch.isfinite(self.final).any()):
            raise ValueError(
                "the graph has no final state (every final log-weight is -inf); give one state a finite final weight"
            )

    @classmethod
    def from_arcs(
        cls,
        arcs: Iterable[tuple[int, int, int, float]],
        start: int | Mapping[int, float],
        final: Iterable[int] | Mapping[int, float],
        *,
        num_states: int | None = None,
        num_labels: int | None = None,
        dtype: torch.dtype | None = None,
    ) -> LabelGraph:
        """Build a graph from ``(src, dst, label, log_weight)`` tuples.

        Args:
            arcs: The arcs; log-weights are natural logs (0.0 = weight 1).
            start: The start state (log-weight 0), or a mapping state -> log start weight.
            final: Final states (log-weight 0), or a mapping state -> log final weight.
            num_states: Number of states; default one more than the largest state mentioned.
            num_labels: Number of labels; default one more than the largest label.
            dtype: Floating dtype of the weights; default ``torch.get_default_dtype()``.

        Returns:
            The graph.
        """
        dtype = dtype or torch.get_default_dtype()
        arcs = [(int(a), int(b), int(lab), float(w)) for a, b, lab, w in arcs]
        start_map = (
            {int(start): 0.0} if isinstance(start, (int, np.integer)) else {int(k): float(v) for k, v in start.items()}
        )
        final_map = (
            {int(k): float(v) for k, v in final.items()} if isinstance(final, Mapping) else {int(k): 0.0 for k in final}
        )
        states = [a for a, _, _, _ in arcs] + [b for _, b, _, _ in arcs] + list(start_map) + list(final_map)
        n_states = num_states if num_states is not None else max(states, default=-1) + 1
        n_labels = num_labels if num_labels is not None else max((lab for _, _, lab, _ in arcs), default=-1) + 1
        columns = list(zip(*arcs, strict=True)) if arcs else [(), (), (), ()]
        start_t = torch.full((n_states,), -math.inf, dtype=dtype)
        final_t = torch.full((n_states,), -math.inf, dtype=dtype)
        for mapping, target in ((start_map, start_t), (final_map, final_t)):
            for state, w in mapping.items():
                if not 0 <= state < n_states:
                    raise ValueError(f"state {state} is outside [0, {n_states}); number states from 0")
                target[state] = w
        return cls(
            num_states=n_states,
            num_labels=n_labels,
            src=torch.tensor(columns[0], dtype=torch.long),
            dst=torch.tensor(columns[1], dtype=torch.long),
            label=torch.tensor(columns[2], dtype=torch.long),
            weight=torch.tensor(columns[3], dtype=dtype),
            start=start_t,
            final=final_t,
        )

    @property
    def num_arcs(self) -> int:
        """Number of arcs A."""
        return int(self.src.shape[0])

    @property
    def device(self) -> torch.device:
        return self.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.weight.dtype

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> LabelGraph:
        """The same graph with its tensors on ``device`` and its weights in ``dtype``.

        Returns ``self`` when nothing changes (so calling it on every forward pass is cheap).
        """
        device = torch.device(device) if device is not None else self.device
        dtype = dtype or self.dtype
        if device == self.device and dtype == self.dtype:
            return self
        return LabelGraph(
            num_states=self.num_states,
            num_labels=self.num_labels,
            src=self.src.to(device),
            dst=self.dst.to(device),
            label=self.label.to(device),
            weight=self.weight.to(device, dtype),
            start=self.start.to(device, dtype),
            final=self.final.to(device, dtype),
        )

    def start_states(self) -> list[int]:
        """The states with a finite start weight."""
        return [int(s) for s in torch.nonzero(torch.isfinite(self.start)).flatten()]

    def with_single_start(self) -> LabelGraph:
        """An equivalent graph with a single start state of log-weight 0.

        Returns ``self`` if that already holds. Otherwise a new state is added (number
        ``num_states``); it copies the outgoing arcs of every start state ``s`` with the start
        weight folded in (``start[s] + w``), and is final with the weight of the empty path.
        Every label sequence keeps its weight, so no epsilon arc is needed (OpenFst graphs have
        one start state).
        """
        starts = self.start_states()
        if len(starts) == 1 and float(self.start[starts[0]]) == 0.0:
            return self
        new = self.num_states
        leaving = torch.isfinite(self.start[self.src])
        start_final = torch.logsumexp(self.start + self.final, dim=0).reshape(1)
        pad = torch.full((1,), -math.inf, dtype=self.dtype, device=self.device)
        return LabelGraph(
            num_states=new + 1,
            num_labels=self.num_labels,
            src=torch.cat([self.src, torch.full_like(self.src[leaving], new)]),
            dst=torch.cat([self.dst, self.dst[leaving]]),
            label=torch.cat([self.label, self.label[leaving]]),
            weight=torch.cat([self.weight, self.weight[leaving] + self.start[self.src[leaving]]]),
            start=torch.cat([torch.full_like(self.start, -math.inf), torch.zeros_like(pad)]),
            final=torch.cat([self.final, start_final if bool(torch.isfinite(start_final)) else pad]),
        )


def fully_connected_graph(num_labels: int, *, normalized: bool = True, dtype: torch.dtype | None = None) -> LabelGraph:
    r"""One state with a self-loop per label: every label sequence is allowed.

    With ``normalized=True`` each arc has log-weight :math:`-\log L`, so
    :math:`G(Y) = L^{-T}` is the uniform distribution over the label sequences of each length T
    (a proper prior p(Y), which the MMI readout needs); otherwise every weight is 0 (``G(Y) = 1``).

    Args:
        num_labels: Number of labels L.
        normalized: Use the uniform prior instead of unit weights.
        dtype: Floating dtype of the weights.

    Returns:
        A 1-state graph with L arcs.

    Example:
        >>> fully_connected_graph(3).weight
        tensor([-1.0986, -1.0986, -1.0986])
    """
    num_labels = int(num_labels)
    if num_labels < 1:
        raise ValueError(f"num_labels must be >= 1, got {num_labels}")
    w = -math.log(num_labels) if normalized else 0.0
    return LabelGraph.from_arcs(
        [(0, 0, lab, w) for lab in range(num_labels)], start=0, final=[0], num_labels=num_labels, dtype=dtype
    )


def _as_label_arrays(sequences: Iterable[Sequence[int] | Tensor | np.ndarray]) -> list[np.ndarray]:
    arrays = []
    for i, seq in enumerate(sequences):
        arr = seq.detach().cpu().numpy() if isinstance(seq, Tensor) else np.asarray(seq)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
            raise ValueError(
                f"label sequence {i} must be a non-empty 1-d sequence of integer labels, got "
                f"shape {arr.shape} and dtype {arr.dtype}"
            )
        if int(arr.min()) < 0:
            raise ValueError(f"label sequence {i} holds a negative label ({int(arr.min())}); number labels from 0")
        arrays.append(arr.astype(np.int64))
    if not arrays:
        raise ValueError("bigram_graph needs at least one label sequence to count transitions from")
    return arrays


def bigram_graph(
    sequences: Iterable[Sequence[int] | Tensor | np.ndarray],
    num_labels: int | None = None,
    *,
    smoothing: float = 1.0,
    end_weights: bool = False,
    dtype: torch.dtype | None = None,
) -> LabelGraph:
    r"""A bigram (first-order Markov) graph over labels, estimated from label sequences.

    States: 0 is the start state ("no label yet"); state ``l + 1`` means "the last label was l".
    The arc ``a + 1 -> b + 1`` (from the start state: ``0 -> b + 1``) carries label ``b`` and the
    smoothed log-probability

    .. math::
        \log P(b \mid a) = \log \frac{c(a, b) + \lambda}{c(a) + \lambda V}

    where :math:`c(a, b)` counts the transitions a -> b in ``sequences`` (``a`` = start for the
    first label), :math:`c(a) = \sum_b c(a, b)`, :math:`\lambda` = ``smoothing`` (additive, or
    Lidstone, smoothing: 1 is Laplace's rule) and V is the number of outcomes (L, or L + 1 with
    the end-of-sequence event).

    - ``end_weights=False`` (default): the end of a sequence is not modelled (V = L) and every
      label state is final with log-weight 0. Then :math:`\sum_Y G(Y) = 1` over the label
      sequences of every length T: G is the Markov chain's distribution of the first T labels.
    - ``end_weights=True``: the end is an outcome (V = L + 1, counted once per sequence) and the
      final log-weight of state ``a + 1`` is :math:`\log P(\text{end} \mid a)`.

    With ``smoothing=0`` unseen transitions get no arc (weight 0), and a state never left in the
    data gets no outgoing arcs.

    Args:
        sequences: Label sequences (each a non-empty 1-d integer sequence, tensor or array).
        num_labels: Number of labels L; default one more than the largest label seen.
        smoothing: The additive count :math:`\lambda \ge 0`.
        end_weights: Model the end of the sequence with final weights.
        dtype: Floating dtype of the weights.

    Returns:
        A graph with L + 1 states and up to L + L^2 arcs.

    Example:
        >>> g = bigram_graph([[0, 0, 1], [1, 1, 1]], smoothing=1.0)
        >>> g.num_states, g.num_arcs
        (3, 6)
    """
    arrays = _as_label_arrays(sequences)
    seen = max(int(a.max()) for a in arrays) + 1
    n_labels = seen if num_labels is None else int(num_labels)
    if n_labels < seen:
        raise ValueError(f"num_labels={n_labels} but the sequences hold label {seen - 1}; pass num_labels >= {seen}")
    smoothing = float(smoothing)
    if not 0.0 <= smoothing < math.inf:
        raise ValueError(f"smoothing must be a finite number >= 0 (an additive count), got {smoothing}")
    # counts[a, b]: row 0 is the start state, row l + 1 the label l; column L is the end event.
    counts = np.zeros((n_labels + 1, n_labels + 1))
    for arr in arrays:
        prev = np.concatenate([[0], arr + 1])
        np.add.at(counts, (prev[:-1], arr), 1.0)
        counts[arr[-1] + 1, n_labels] += 1.0
    outcomes = n_labels + 1 if end_weights else n_labels
    smoothed = counts[:, :outcomes] + smoothing
    if end_weights:
        smoothed[0, n_labels] = 0.0  # sequences are non-empty: the start state never ends one
    totals = smoothed.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_prob = np.where(smoothed > 0, np.log(smoothed) - np.log(np.where(totals > 0, totals, 1.0)), -np.inf)
    arcs = [
        (a, b + 1, b, float(log_prob[a, b]))
        for a in range(n_labels + 1)
        for b in range(n_labels)
        if np.isfinite(log_prob[a, b])
    ]
    if end_weights:
        final = {
            a + 1: float(log_prob[a + 1, n_labels]) for a in range(n_labels) if np.isfinite(log_prob[a + 1, n_labels])
        }
    else:
        final = {a + 1: 0.0 for a in range(n_labels)}
    return LabelGraph.from_arcs(arcs, start=0, final=final, num_states=n_labels + 1, num_labels=n_labels, dtype=dtype)
