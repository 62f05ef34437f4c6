"""Reference quantities by enumerating every path of a tiny graph (float64, autograd-friendly).

Independent of the library's recursion: paths are listed one by one (depth-first over arcs), each
path's score is a plain sum, and everything else is a softmax-weighted sum over the list.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from mibounds.sequence import LabelGraph, bigram_graph, fully_connected_graph


@functools.lru_cache(maxsize=256)  # graphs hash by identity; tests enumerate the same one often
def enumerate_paths(graph: LabelGraph, frames: int) -> Tensor:
    """Every path of ``frames`` arcs from a start state to a final state: ``[N, frames]`` arc ids."""
    src, dst = graph.src.tolist(), graph.dst.tolist()
    present = [math.isfinite(w) for w in graph.weight.tolist()]
    starts = [s for s, w in enumerate(graph.start.tolist()) if math.isfinite(w)]
    finals = {s for s, w in enumerate(graph.final.tolist()) if math.isfinite(w)}
    paths: list[list[int]] = []

    def extend(state: int, path: list[int]) -> None:
        if len(path) == frames:
            if state in finals:
                paths.append(list(path))
            return
        for a in range(graph.num_arcs):
            if src[a] == state and present[a]:
                path.append(a)
                extend(dst[a], path)
                path.pop()

    for s in starts:
        extend(s, [])
    return torch.tensor(paths, dtype=torch.long).reshape(len(paths), frames)


def path_log_scores(phi: Tensor, graph: LabelGraph, paths: Tensor) -> Tensor:
    """``[N]`` start + arc + final log-weights plus emission scores ``phi`` ``[T, L]`` of each path."""
    frames = torch.arange(paths.shape[1])
    emission = phi[frames, graph.label[paths]].sum(-1)
    weights = graph.weight[paths].sum(-1)
    return graph.start[graph.src[paths[:, 0]]] + weights + graph.final[graph.dst[paths[:, -1]]] + emission


def log_partition(phi: Tensor, graph: LabelGraph) -> Tensor:
    """log sum over paths of exp(path score), for one unpadded sequence ``phi`` ``[T, L]``."""
    return torch.logsumexp(path_log_scores(phi, graph, enumerate_paths(graph, phi.shape[0])), dim=0)


def posterior(phi: Tensor, graph: LabelGraph) -> tuple[Tensor, Tensor]:
    """``(paths [N, T], probabilities [N])`` of the posterior over paths."""
    paths = enumerate_paths(graph, phi.shape[0])
    return paths, torch.softmax(path_log_scores(phi, graph, paths), dim=0)


def label_occupancy(phi: Tensor, graph: LabelGraph) -> Tensor:
    """``[T, L]``: posterior probability that frame t carries label l."""
    paths, prob = posterior(phi, graph)
    onehot = torch.nn.functional.one_hot(graph.label[paths], graph.num_labels).to(prob.dtype)
    return torch.einsum("n,ntl->tl", prob, onehot)


def state_occupancy(phi: Tensor, graph: LabelGraph) -> Tensor:
    """``[T, S]``: posterior probability of being in state s after frame t."""
    paths, prob = posterior(phi, graph)
    onehot = torch.nn.functional.one_hot(graph.dst[paths], graph.num_states).to(prob.dtype)
    return torch.einsum("n,nts->ts", prob, onehot)


def sequence_log_weight(graph: LabelGraph, labels: list[int]) -> Tensor:
    """log G(Y): log of the summed weight of the paths that spell ``labels`` (-inf if none)."""
    paths = enumerate_paths(graph, len(labels))
    spell = (graph.label[paths] == torch.tensor(labels)).all(dim=1)
    zero = torch.zeros(1, len(labels), graph.num_labels, dtype=graph.weight.dtype)[0]
    return torch.logsumexp(path_log_scores(zero, graph, paths[spell]), dim=0)


def random_graph(
    generator: torch.Generator, num_states: int = 3, num_labels: int = 3, num_arcs: int = 10
) -> LabelGraph:
    """A random acceptor with parallel arcs, two weighted start states and one non-final state.

    Every state gets one self-loop, so paths of every length exist.
    """
    g = generator
    src = torch.cat([torch.arange(num_states), torch.randint(0, num_states, (num_arcs - num_states,), generator=g)])
    dst = torch.cat([torch.arange(num_states), torch.randint(0, num_states, (num_arcs - num_states,), generator=g)])
    label = torch.randint(0, num_labels, (num_arcs,), generator=g)
    # A parallel copy of arc 0 (same src, dst, label): its weight must add in probability space.
    src, dst, label = (torch.cat([t, t[:1]]) for t in (src, dst, label))
    weight = torch.randn(num_arcs + 1, generator=g, dtype=torch.float64)
    start = torch.full((num_states,), -math.inf, dtype=torch.float64)
    start[:2] = torch.randn(2, generator=g, dtype=torch.float64)
    final = torch.randn(num_states, generator=g, dtype=torch.float64)
    final[-1] = -math.inf
    return LabelGraph(num_states, num_labels, src, dst, label, weight, start, final)


def tiny_graphs() -> dict[str, LabelGraph]:
    """The 3-label graphs every exactness test runs on (float64)."""
    return {
        "random": random_graph(torch.Generator().manual_seed(3)),
        "bigram": bigram_graph([[0, 0, 1, 2], [2, 2, 1], [1, 0]], num_labels=3, smoothing=0.5, dtype=torch.float64),
        "bigram-end": bigram_graph(
            [[0, 1, 1], [2, 0]], num_labels=3, smoothing=1.0, end_weights=True, dtype=torch.float64
        ),
        "sparse-bigram": bigram_graph([[0, 1, 2, 0, 1, 2]], num_labels=3, smoothing=0.0, dtype=torch.float64),
        "fully-connected": fully_connected_graph(3, dtype=torch.float64),
    }
