"""``nn.Module`` faces of the sequence objectives: they hold the graph and options and call the
functions of :mod:`mibounds.sequence.objectives`, returning exactly what the functions return."""

from __future__ import annotations

from torch import Tensor, nn

from mibounds.sequence import objectives
from mibounds.sequence.graph import LabelGraph

__all__ = ["MMI", "PseudoLabelMMI", "SequenceInfoNCE"]


class _GraphObjective(nn.Module):
    """Holds a :class:`LabelGraph`; moves it to the inputs' device and dtype (cached)."""

    def __init__(self, graph: LabelGraph) -> None:
        super().__init__()
        if not isinstance(graph, LabelGraph):
            raise TypeError(
                f"graph must be a LabelGraph, got {type(graph).__name__}; build one with bigram_graph or read_openfst"
            )
        self.graph = graph

    def _graph_like(self, emissions: Tensor) -> LabelGraph:
        self.graph = self.graph.to(emissions.device, emissions.dtype)
        return self.graph

    def extra_repr(self) -> str:
        return f"num_states={self.graph.num_states}, num_labels={self.graph.num_labels}, num_arcs={self.graph.num_arcs}"


class SequenceInfoNCE(_GraphObjective):
    """:func:`~mibounds.sequence.objectives.sequence_infonce` as a module:
    ``forward(emissions, lengths=None, other=None)``.

    Args:
        graph: The label graph.
        posterior: ``"joint"`` (default), ``"fixed"`` or ``"learned"``.

    Example:
        >>> import torch
        >>> from mibounds.sequence import fully_connected_graph
        >>> objective = SequenceInfoNCE(fully_connected_graph(3))
        >>> objective(torch.randn(4, 10, 3)).shape
        torch.Size([])
    """

    def __init__(self, graph: LabelGraph, posterior: objectives.Posterior = "joint") -> None:
        super().__init__(graph)
        self.posterior = posterior

    def forward(self, emissions: Tensor, lengths: Tensor | None = None, other: Tensor | None = None) -> Tensor:
        return objectives.sequence_infonce(
            emissions, self._graph_like(emissions), lengths, other=other, posterior=self.posterior
        )


class MMI(_GraphObjective):
    """:func:`~mibounds.sequence.objectives.mmi` as a module: ``forward(emissions, labels, lengths=None)``.

    Args:
        graph: The denominator graph.
        include_prior: Report the log-posterior instead of the MI readout.
    """

    def __init__(self, graph: LabelGraph, include_prior: bool = False) -> None:
        super().__init__(graph)
        self.include_prior = include_prior

    def forward(self, emissions: Tensor, labels: Tensor, lengths: Tensor | None = None) -> Tensor:
        return objectives.mmi(emissions, self._graph_like(emissions), labels, lengths, include_prior=self.include_prior)


class PseudoLabelMMI(_GraphObjective):
    """:func:`~mibounds.sequence.objectives.pseudo_label_mmi` as a module:
    ``forward(emissions, posterior_emissions, lengths=None)``.

    Args:
        graph: The graph of the model's partition function.
        posterior_graph: The graph of the teacher's posterior (default: ``graph``).
    """

    def __init__(self, graph: LabelGraph, posterior_graph: LabelGraph | None = None) -> None:
        super().__init__(graph)
        self.posterior_graph = posterior_graph

    def forward(self, emissions: Tensor, posterior_emissions: Tensor, lengths: Tensor | None = None) -> Tensor:
        graph = self._graph_like(emissions)
        if self.posterior_graph is not None:
            self.posterior_graph = self.posterior_graph.to(emissions.device, emissions.dtype)
        return objectives.pseudo_label_mmi(
            emissions, graph, lengths, posterior_emissions=posterior_emissions, posterior_graph=self.posterior_graph
        )
