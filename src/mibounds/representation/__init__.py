"""MI objectives for training encoders: losses over embeddings, multi-process negatives, Deep
InfoMax, CPC, multi-view training, and both sides of I(X; Z) for a stochastic encoder.

- :mod:`~mibounds.representation.losses`: :class:`InfoNCELoss` and :class:`MILoss` (JS, DV, NWJ,
  ...) over embeddings; each returns the loss tensor and keeps the MI readout in nats and its
  ceiling in ``last_readout`` (:mod:`~mibounds.representation.readout`).
- :mod:`~mibounds.representation.lightning`: :class:`~mibounds.representation.lightning.MIReadoutLogger`,
  a PyTorch Lightning callback that logs those readouts (the ``lightning`` extra; imported from
  its module).
- :mod:`~mibounds.representation.distributed`: :func:`all_gather_with_grad`, negatives from every
  process with correct gradients.
- :mod:`~mibounds.representation.dim`, :mod:`~mibounds.representation.cpc`,
  :mod:`~mibounds.representation.multiview`: Deep InfoMax, CPC and CMC as modules;
  :mod:`~mibounds.representation.stdim`: spatio-temporal Deep InfoMax across consecutive frames;
  :mod:`~mibounds.representation.amdim`: AMDIM, multiscale InfoNCE across two augmented views.
- :mod:`~mibounds.representation.dgi`: Deep Graph Infomax (graph convolution encoder, corruption
  by shuffled features) on graphs such as :mod:`~mibounds.representation.sbm`'s stochastic block
  model.
- :mod:`~mibounds.representation.invertible`: encoders invertible by construction (coupling
  layers), for which training moves an MI bound but not the MI.
- :mod:`~mibounds.representation.vib`: rate (upper) and Barber-Agakov (lower) bounds.
- :mod:`~mibounds.representation.ica`: Bell-Sejnowski InfoMax ICA, :class:`InfoMaxICA`, and the
  Amari index of a separation.
- :mod:`~mibounds.representation.infogan`: InfoGAN, a generator whose codes a Q-network reads
  back through the Barber-Agakov bound.
- :mod:`~mibounds.representation.dsprites`, :mod:`~mibounds.representation.digits`,
  :mod:`~mibounds.representation.scenes`: data (the procedural dSprites renderer, scikit-learn's
  digits and their two-view augmentation, episodes of sprites bouncing in a box), imported from
  their modules. The experiments on them are in :mod:`mibounds.experiments.dsprites`,
  :mod:`mibounds.experiments.digits`, :mod:`mibounds.experiments.amdim`,
  :mod:`mibounds.experiments.dim_digits`, :mod:`mibounds.experiments.infogan` and
  :mod:`mibounds.experiments.stdim`.

All MI values are in nats; the score convention is ``scores[i, j] = f(x_i, y_j)`` with the
partition over x for each y (docs/design.md §2).

Example:
    >>> import torch
    >>> from mibounds.representation import InfoNCELoss
    >>> z = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
    >>> loss_fn = InfoNCELoss()
    >>> loss = loss_fn(z, z)  # a 0-d tensor to minimize
    >>> readout = loss_fn.last_readout
    >>> bool(readout.mi <= readout.ceiling), round(readout.ceiling, 4)  # log K for K = 8 pairs
    (True, 2.0794)
"""

from mibounds.representation.adversarial import reverse_gradient
from mibounds.representation.amdim import AMDIM, AMDIMResult, MultiscaleEncoder, MultiscaleFeatures
from mibounds.representation.cpc import CPC, CPCResult
from mibounds.representation.dgi import (
    DeepGraphInfomax,
    DeepGraphInfomaxResult,
    GraphConvEncoder,
    corruption_scores,
    normalized_adjacency,
    shuffle_nodes,
)
from mibounds.representation.dim import ConvEncoder, DeepInfoMax, DeepInfoMaxResult, PriorMatching
from mibounds.representation.distributed import Gathered, all_gather_with_grad, is_distributed, rank, world_size
from mibounds.representation.ica import InfoMaxICA, amari_index
from mibounds.representation.infogan import InfoGAN, InfoGANCodes, InfoGANMI, InfoGANSample, QOutput
from mibounds.representation.invertible import CouplingLayer, InvertibleEncoder
from mibounds.representation.losses import (
    DVLoss,
    InfoNCELoss,
    JSLoss,
    MILoss,
    NWJLoss,
    infonce_loss,
    mean_bound,
    mi_loss,
    similarity_matrix,
)
from mibounds.representation.multiview import MultiViewContrastive, MultiViewResult
from mibounds.representation.readout import MILossResult, ReadoutLoss, loss_with_readout
from mibounds.representation.sbm import GraphData, stochastic_block_model
from mibounds.representation.stdim import STDIM, STDIMResult
from mibounds.representation.vib import (
    ConditionalGaussian,
    DiagonalGaussian,
    GaussianMarginal,
    MIBracket,
    ba_lower_bound,
    mi_bracket,
    rate_upper_bound,
)

__all__ = [
    "AMDIM",
    "AMDIMResult",
    "CPC",
    "CPCResult",
    "ConditionalGaussian",
    "ConvEncoder",
    "CouplingLayer",
    "DVLoss",
    "DeepGraphInfomax",
    "DeepGraphInfomaxResult",
    "DeepInfoMax",
    "DeepInfoMaxResult",
    "DiagonalGaussian",
    "Gathered",
    "GaussianMarginal",
    "GraphConvEncoder",
    "GraphData",
    "InfoGAN",
    "InfoGANCodes",
    "InfoGANMI",
    "InfoGANSample",
    "InfoMaxICA",
    "InfoNCELoss",
    "InvertibleEncoder",
    "JSLoss",
    "MIBracket",
    "MILoss",
    "MILossResult",
    "MultiViewContrastive",
    "MultiViewResult",
    "MultiscaleEncoder",
    "MultiscaleFeatures",
    "NWJLoss",
    "PriorMatching",
    "QOutput",
    "ReadoutLoss",
    "STDIM",
    "STDIMResult",
    "all_gather_with_grad",
    "amari_index",
    "ba_lower_bound",
    "corruption_scores",
    "infonce_loss",
    "is_distributed",
    "loss_with_readout",
    "mean_bound",
    "mi_bracket",
    "mi_loss",
    "normalized_adjacency",
    "rank",
    "rate_upper_bound",
    "reverse_gradient",
    "shuffle_nodes",
    "similarity_matrix",
    "stochastic_block_model",
    "world_size",
]
