"""MI objectives for training encoders: losses over embeddings, multi-process negatives, Deep
InfoMax, CPC, multi-view training, and both sides of I(X; Z) for a stochastic encoder.

- :mod:`~mibounds.representation.losses`: :class:`InfoNCELoss` and :class:`MILoss` (JS, DV, NWJ,
  ...) over embeddings, each returning the loss, the MI readout in nats and its ceiling.
- :mod:`~mibounds.representation.distributed`: :func:`all_gather_with_grad`, negatives from every
  process with correct gradients.
- :mod:`~mibounds.representation.dim`, :mod:`~mibounds.representation.cpc`,
  :mod:`~mibounds.representation.multiview`: Deep InfoMax, CPC and CMC as modules.
- :mod:`~mibounds.representation.vib`: rate (upper) and Barber-Agakov (lower) bounds.
- :mod:`~mibounds.representation.dsprites`, :mod:`~mibounds.representation.digits`: the
  procedural dSprites experiment (Poole et al. 2019, §5) and a two-view digits example.

All MI values are in nats; the score convention is ``scores[i, j] = f(x_i, y_j)`` with the
partition over x for each y (see DESIGN.md).
"""

from mibounds.representation.adversarial import reverse_gradient
from mibounds.representation.cpc import CPC, CPCResult
from mibounds.representation.digits import DigitsResult, run_digits_experiment
from mibounds.representation.dim import ConvEncoder, DeepInfoMax, DeepInfoMaxResult, PriorMatching
from mibounds.representation.distributed import Gathered, all_gather_with_grad, is_distributed, rank, world_size
from mibounds.representation.dsprites import DSprites, DSpritesResult, factor_scores, render, run_dsprites_experiment
from mibounds.representation.losses import (
    DVLoss,
    InfoNCELoss,
    JSLoss,
    MILoss,
    MILossResult,
    NWJLoss,
    infonce_loss,
    mean_bound,
    mi_loss,
    similarity_matrix,
)
from mibounds.representation.multiview import MultiViewContrastive, MultiViewResult
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
    "CPC",
    "CPCResult",
    "ConditionalGaussian",
    "ConvEncoder",
    "DSprites",
    "DSpritesResult",
    "DVLoss",
    "DeepInfoMax",
    "DeepInfoMaxResult",
    "DiagonalGaussian",
    "DigitsResult",
    "Gathered",
    "GaussianMarginal",
    "InfoNCELoss",
    "JSLoss",
    "MIBracket",
    "MILoss",
    "MILossResult",
    "MultiViewContrastive",
    "MultiViewResult",
    "NWJLoss",
    "PriorMatching",
    "all_gather_with_grad",
    "ba_lower_bound",
    "factor_scores",
    "infonce_loss",
    "is_distributed",
    "mean_bound",
    "mi_bracket",
    "mi_loss",
    "rank",
    "rate_upper_bound",
    "render",
    "reverse_gradient",
    "run_digits_experiment",
    "run_dsprites_experiment",
    "similarity_matrix",
    "world_size",
]
