r"""Deep Graph Infomax: MI between node representations and a summary of the whole graph.

A graph convolution encoder maps node features ``X [N, d]`` and the graph to node
representations :math:`h_i` (``H [N, D]``); the summary is :math:`s = \sigma(\frac1N \sum_i h_i)`.
The negatives come from a corrupted graph: the same edges with the node features shuffled across
nodes, encoded by the same encoder, :math:`\tilde h_j`. A bilinear critic
:math:`f(h, s) = h^\top W s` scores real pairs :math:`(h_i, s)` against corrupted ones
:math:`(\tilde h_j, s)` and a bound of :mod:`mibounds.bounds` is maximized over the encoder and
the critic. With ``bound="js"`` (the paper's binary cross-entropy) the training gradient is that of

.. math::
    \frac1N \sum_i -\mathrm{softplus}(-f(h_i, s)) - \frac1N \sum_j \mathrm{softplus}(f(\tilde h_j, s)),

twice the paper's objective, and the readout is NWJ on :math:`f + 1` (see :func:`mibounds.bounds.js`);
``bound="infonce"`` classifies each real node among the corrupted ones (readout at most log N).

The score matrix (:func:`corruption_scores`) follows the package's convention with rows the x
candidates and columns the y: column i pairs :math:`h_i` with s on the diagonal, and its
off-diagonal entries hold the corrupted nodes :math:`\tilde h_j` (j ≠ i) scored against the same
s, so every bound's average over "p(x)p(y)" is the average over the corrupted nodes, exactly.
What the readout bounds is therefore the divergence between real and corrupted node-summary
pairs; it is an MI lower bound only as far as corrupted nodes stand for draws from the marginal.

The adjacency is the symmetrically normalized :math:`\hat A = D^{-1/2}(A + I)D^{-1/2}` as a
``torch.sparse`` tensor (:func:`normalized_adjacency`); no graph library is needed.

References:
    Veličković, Fedus, Hamilton, Liò, Bengio, Hjelm (2019). Deep Graph Infomax. ICLR.
    arXiv:1809.10341. Kipf, Welling (2017). Semi-Supervised Classification with Graph
    Convolutional Networks. ICLR. arXiv:1609.02907.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from mibounds import bounds
from mibounds.critics.bilinear import BilinearCritic
from mibounds.representation.losses import _score_only_bound, mean_bound
from mibounds.validation import check_int

__all__ = [
    "DeepGraphInfomax",
    "DeepGraphInfomaxResult",
    "GraphConvEncoder",
    "corruption_scores",
    "normalized_adjacency",
    "shuffle_nodes",
]


def normalized_adjacency(edge_index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""The graph convolution's propagation matrix :math:`\hat A = D^{-1/2}(A + I)D^{-1/2}`, sparse.

    Args:
        edge_index: ``[2, E]`` long (source, destination) pairs; list both directions of an
            undirected edge. Repeated pairs add up.
        num_nodes: N.
        dtype: Floating dtype of the values.

    Returns:
        ``[N, N]`` coalesced sparse COO tensor (D the degrees of A + I).

    Example:
        >>> import torch
        >>> a = normalized_adjacency(torch.tensor([[0, 1], [1, 0]]), 3)  # one edge, one isolated node
        >>> a.to_dense()
        tensor([[0.5000, 0.5000, 0.0000],
                [0.5000, 0.5000, 0.0000],
                [0.0000, 0.0000, 1.0000]])
    """
    num_nodes = check_int(num_nodes, "num_nodes", minimum=1)
    if edge_index.dim() != 2 or edge_index.shape[0] != 2 or edge_index.dtype != torch.long:
        raise ValueError(
            f"edge_index must be a [2, E] long tensor of (source, destination) pairs, got "
            f"{edge_index.dtype} of shape {tuple(edge_index.shape)}"
        )
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index holds nodes outside [0, {num_nodes}); pass num_nodes = the number of nodes")
    loops = torch.arange(num_nodes, device=edge_index.device)
    index = torch.cat([edge_index, torch.stack([loops, loops])], dim=1)
    values = torch.ones(index.shape[1], dtype=dtype, device=edge_index.device)
    adjacency = torch.sparse_coo_tensor(index, values, (num_nodes, num_nodes), check_invariants=False).coalesce()
    index, values = adjacency.indices(), adjacency.values()
    degree = torch.zeros(num_nodes, dtype=dtype, device=edge_index.device).index_add_(0, index[0], values)
    scale = degree.rsqrt()
    return torch.sparse_coo_tensor(
        index, values * scale[index[0]] * scale[index[1]], adjacency.shape, check_invariants=False
    ).coalesce()


class GraphConvEncoder(nn.Module):
    r"""Graph convolution layers :math:`H^{(l+1)} = \mathrm{PReLU}(\hat A H^{(l)} W^{(l)} + b^{(l)})`.

    Args:
        in_dim: d, the node features.
        hidden_dim: D, the node representations (every layer's width).
        num_layers: Number of graph convolutions (Deep Graph Infomax uses 1 on transductive tasks).

    Example:
        >>> import torch
        >>> adjacency = normalized_adjacency(torch.tensor([[0, 1], [1, 0]]), 2)
        >>> GraphConvEncoder(5, 8)(torch.randn(2, 5), adjacency).shape
        torch.Size([2, 8])
    """

    def __init__(self, in_dim: int, hidden_dim: int, num_layers: int = 1) -> None:
        super().__init__()
        self.in_dim = check_int(in_dim, "in_dim", minimum=1)
        self.hidden_dim = check_int(hidden_dim, "hidden_dim", minimum=1)
        num_layers = check_int(num_layers, "num_layers", minimum=1)
        widths = [self.in_dim] + [self.hidden_dim] * num_layers
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.activations = nn.ModuleList(nn.PReLU(self.hidden_dim) for _ in range(num_layers))

    def forward(self, features: Tensor, adjacency: Tensor) -> Tensor:
        """``features [N, in_dim]``, sparse ``adjacency [N, N]`` -> ``[N, hidden_dim]``."""
        if features.dim() != 2 or features.shape[1] != self.in_dim:
            raise ValueError(f"features must be [N, in_dim] = [N, {self.in_dim}], got shape {tuple(features.shape)}")
        if adjacency.shape != (features.shape[0], features.shape[0]):
            raise ValueError(
                f"adjacency is {tuple(adjacency.shape)} but there are {features.shape[0]} nodes; "
                "pass normalized_adjacency(edge_index, num_nodes)"
            )
        h = features
        for module, activation in zip(self.linears, self.activations, strict=True):
            linear = cast(nn.Linear, module)
            # A (H W) = (A H) W, cheaper when d > D; the bias after the propagation, as in Kipf & Welling.
            h = activation(torch.sparse.mm(adjacency, h @ linear.weight.T) + linear.bias)
        return h

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, num_layers={len(self.linears)}"


def shuffle_nodes(features: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Deep Graph Infomax's corruption: the rows of ``features`` in a random order (edges kept).

    Example:
        >>> import torch
        >>> x = torch.arange(6.0).reshape(3, 2)
        >>> sorted(shuffle_nodes(x, torch.Generator().manual_seed(0)).tolist()) == x.tolist()
        True
    """
    order = torch.randperm(features.shape[0], generator=generator).to(features.device)
    return features[order]


def corruption_scores(positive: Tensor, negative: Tensor) -> Tensor:
    r"""The ``[N, N]`` score matrix of N real and N corrupted scores against one summary.

    ``scores[i, i] = positive[i]`` and ``scores[j, i] = negative[j]`` for j ≠ i: column i holds
    the real pair i and the corrupted nodes other than j = i. A bound's mean over off-diagonal
    entries is then the mean over the corrupted nodes (each appears N - 1 times), and InfoNCE's
    logsumexp over column i classifies real node i among N - 1 corrupted ones.

    Args:
        positive: ``[N]`` scores :math:`f(h_i, s)` of the real nodes.
        negative: ``[N]`` scores :math:`f(\tilde h_j, s)` of the corrupted nodes.

    Returns:
        ``[N, N]`` scores (O(N^2) memory).

    Example:
        >>> import torch
        >>> corruption_scores(torch.tensor([5.0, 6.0]), torch.tensor([-1.0, -2.0]))
        tensor([[ 5., -1.],
                [-2.,  6.]])
    """
    if positive.dim() != 1 or positive.shape != negative.shape:
        raise ValueError(
            f"positive and negative must be [N] vectors of the same N, got {tuple(positive.shape)} and "
            f"{tuple(negative.shape)}"
        )
    n = positive.shape[0]
    scores = negative[:, None].expand(n, n)
    return torch.where(torch.eye(n, dtype=torch.bool, device=positive.device), positive[None, :], scores)


@dataclass(frozen=True)
class DeepGraphInfomaxResult:
    """What :class:`DeepGraphInfomax` returns.

    Attributes:
        loss: 0-d tensor to minimize (the negative of the bound).
        mi: Detached readout of the bound in nats (see the module on what it bounds).
        ceiling: The readout's ceiling (log N for InfoNCE), or None if unbounded.
        embeddings: ``[N, D]`` node representations of the real graph (with gradient).
    """

    loss: Tensor
    mi: Tensor
    ceiling: float | None
    embeddings: Tensor


class DeepGraphInfomax(nn.Module):
    r"""The Deep Graph Infomax objective around a node encoder.

    ``forward(features, adjacency, generator=None)`` encodes the graph and a corrupted copy
    (:func:`shuffle_nodes`), scores both against the summary :math:`\sigma(\mathrm{mean}_i h_i)`
    with a bilinear critic (:class:`~mibounds.critics.BilinearCritic`), and returns
    :class:`DeepGraphInfomaxResult` with ``loss = -bound(corruption_scores(...))``.

    Args:
        encoder: Maps ``(features [N, d], adjacency)`` to ``[N, hidden_dim]`` (e.g.
            :class:`GraphConvEncoder`).
        hidden_dim: D.
        bound: ``"js"`` (the paper's), ``"infonce"``, ``"nwj"``, ``"dv"`` or ``"smile"``.
        **bound_params: The bound's hyper-parameters (e.g. ``clip=5.0`` for smile).

    Example:
        >>> import torch
        >>> from mibounds.representation.sbm import stochastic_block_model
        >>> data = stochastic_block_model(n_nodes=50, n_classes=2, p_in=0.2, p_out=0.02, feature_dim=8)
        >>> adjacency = normalized_adjacency(data.edge_index, data.num_nodes)
        >>> dgi = DeepGraphInfomax(GraphConvEncoder(8, 16), 16, bound="infonce")
        >>> result = dgi(data.features, adjacency, torch.Generator().manual_seed(0))
        >>> result.loss.backward()
        >>> bool(result.mi <= result.ceiling), result.embeddings.shape
        (True, torch.Size([50, 16]))
    """

    def __init__(self, encoder: nn.Module, hidden_dim: int, bound: str = "js", **bound_params: Any) -> None:
        super().__init__()
        info, bound_params = _score_only_bound(bound, bound_params)
        if "state" in info.needs:
            raise ValueError(
                f"bound {info.name!r} keeps state across batches; Deep Graph Infomax needs a stateless one"
            )
        self.encoder = encoder
        self.hidden_dim = check_int(hidden_dim, "hidden_dim", minimum=1)
        # Glorot-scale entries, as in the paper's bilinear discriminator.
        self.critic = BilinearCritic(self.hidden_dim, self.hidden_dim, init_std=1.0 / math.sqrt(self.hidden_dim))
        self.bound, self.bound_params = info.name, dict(bound_params)

    def summary(self, embeddings: Tensor) -> Tensor:
        r"""The readout :math:`s = \sigma(\frac1N\sum_i h_i)`, ``[D]``."""
        return torch.sigmoid(embeddings.mean(dim=0))

    def node_scores(self, embeddings: Tensor, summary: Tensor) -> Tensor:
        """``[N]`` critic scores :math:`h_i^\\top W s` of every node against one summary."""
        # One summary for all nodes: the [N] column of the critic's [N, N] matrix, as a product.
        return embeddings @ (self.critic.weight @ summary)

    def forward(
        self, features: Tensor, adjacency: Tensor, generator: torch.Generator | None = None
    ) -> DeepGraphInfomaxResult:
        """The objective on one graph; see the class docstring."""
        embeddings = self.encoder(features, adjacency)
        corrupted = self.encoder(shuffle_nodes(features, generator), adjacency)
        summary = self.summary(embeddings)
        scores = corruption_scores(self.node_scores(embeddings, summary), self.node_scores(corrupted, summary))
        value = mean_bound(scores, self.bound, **self.bound_params)
        ceiling = bounds.get(self.bound).ceiling_for(scores.shape[0], **self.bound_params)
        return DeepGraphInfomaxResult(loss=-value, mi=value.detach(), ceiling=ceiling, embeddings=embeddings)

    def extra_repr(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.bound_params.items())
        return f"hidden_dim={self.hidden_dim}, bound={self.bound!r}{params}"
