r"""A stochastic block model with class-dependent node features: graph data made by the package.

Node i gets a class :math:`c_i` (uniform over ``n_classes``), an edge to node j with probability
``p_in`` when :math:`c_i = c_j` and ``p_out`` otherwise (independently, undirected, no self-loops),
and a feature vector

.. math::
    x_i = \mu_{c_i} + \sigma\,\varepsilon_i,\qquad \mu_c \sim \mathcal{N}(0, I_d),\
    \varepsilon_i \sim \mathcal{N}(0, I_d),

with :math:`\sigma` = ``feature_noise``. With ``p_in > p_out`` the graph is homophilous: averaging
a node's features with its neighbours' (what a graph convolution does) shrinks the noise while
keeping the class mean, so node classification from features alone is harder than from features
and graph. This is the setting of Deep Graph Infomax (:mod:`~mibounds.representation.dgi`).

Reference:
    Holland, Laskey, Leinhardt (1983). Stochastic blockmodels: first steps. Social Networks 5(2).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from mibounds.validation import check_int, check_probability

__all__ = ["GraphData", "stochastic_block_model"]


class GraphData(NamedTuple):
    """A graph with node features and node classes.

    Attributes:
        features: ``[N, d]`` node features.
        edge_index: ``[2, E]`` long, both directions of every undirected edge (no self-loops).
        labels: ``[N]`` long node classes.
    """

    features: Tensor
    edge_index: Tensor
    labels: Tensor

    @property
    def num_nodes(self) -> int:
        """N."""
        return int(self.features.shape[0])


def stochastic_block_model(
    n_nodes: int = 2000,
    n_classes: int = 5,
    p_in: float = 0.01,
    p_out: float = 0.001,
    feature_dim: int = 64,
    feature_noise: float = 4.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> GraphData:
    """Sample a stochastic block model with Gaussian class-dependent features (see the module).

    The edges are drawn from the ``N (N - 1) / 2`` node pairs at once (O(N^2) memory: fine up
    to some ten thousand nodes).

    Args:
        n_nodes: N >= 2.
        n_classes: Number of classes (blocks), >= 1.
        p_in: Edge probability within a class.
        p_out: Edge probability between classes.
        feature_dim: d, the feature size.
        feature_noise: Standard deviation of the noise added to the class mean, >= 0.
        seed: Seed of everything random (classes, class means, edges, noise).
        dtype: Floating dtype of the features.

    Returns:
        :class:`GraphData`.

    Example:
        >>> data = stochastic_block_model(n_nodes=100, n_classes=2, p_in=0.1, p_out=0.01, seed=0)
        >>> data.features.shape, data.labels.shape, data.edge_index.shape[0]
        (torch.Size([100, 64]), torch.Size([100]), 2)
        >>> bool((data.edge_index[0] != data.edge_index[1]).all())  # no self-loops
        True
    """
    n_nodes = check_int(n_nodes, "n_nodes", minimum=2)
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    feature_dim = check_int(feature_dim, "feature_dim", minimum=1)
    p_in, p_out = check_probability(p_in, "p_in"), check_probability(p_out, "p_out")
    if not feature_noise >= 0:
        raise ValueError(f"feature_noise must be >= 0 (a standard deviation), got {feature_noise}")
    generator = torch.Generator().manual_seed(int(seed))
    labels = torch.randint(0, n_classes, (n_nodes,), generator=generator)
    means = torch.randn(n_classes, feature_dim, generator=generator, dtype=torch.float64)
    noise = torch.randn(n_nodes, feature_dim, generator=generator, dtype=torch.float64)
    features = (means[labels] + feature_noise * noise).to(dtype)
    rows, cols = torch.triu_indices(n_nodes, n_nodes, offset=1)
    probability = torch.where(labels[rows] == labels[cols], p_in, p_out)
    keep = torch.rand(rows.shape[0], generator=generator, dtype=torch.float64) < probability
    src, dst = rows[keep], cols[keep]
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    return GraphData(features=features, edge_index=edge_index, labels=labels)
