"""Every variational bound on mutual information as a pure function, plus a registry and modules.

Score-based bounds take ``scores[i, j] = f(x_i, y_j)`` (``[K, K]``, positives on the diagonal) and
return a 0-d tensor whose value is the estimate in nats and whose gradient is the training
gradient (minimize ``-bound``). Structured bounds take tractable log-densities instead. For separable and bilinear critics
(``S = g hᵀ / τ``) the ``*_embeddings`` functions take the embeddings and compute the same bounds in
row blocks, in O(K·d) memory (:mod:`mibounds.bounds.chunked`).

Example:
    >>> import torch
    >>> from mibounds import bounds
    >>> scores = torch.randn(64, 64)
    >>> bool(bounds.infonce(scores) <= torch.log(torch.tensor(64.0)))
    True
    >>> bounds.get("interpolated").ceiling_for(64, alpha=0.5) > 0
    True
"""

from mibounds.bounds.chunked import (
    AllPairs,
    all_pairs_embeddings,
    dv_embeddings,
    infonce_embeddings,
    js_embeddings,
    nwj_embeddings,
    smile_embeddings,
)
from mibounds.bounds.lower import dv, infonce, interpolated, js, js_fgan, mine, nwj, smile, tuba
from mibounds.bounds.modules import DV, JS, MINE, NWJ, SMILE, TUBA, Bound, InfoNCE, Interpolated, make
from mibounds.bounds.registry import BoundInfo, Traits, get, names, parse
from mibounds.bounds.structured import ba, club, leave_one_out_upper, rate, tnce, uba

__all__ = [
    "AllPairs",
    "DV",
    "JS",
    "MINE",
    "NWJ",
    "SMILE",
    "TUBA",
    "Bound",
    "BoundInfo",
    "Traits",
    "InfoNCE",
    "Interpolated",
    "all_pairs_embeddings",
    "ba",
    "club",
    "dv",
    "dv_embeddings",
    "get",
    "infonce",
    "infonce_embeddings",
    "interpolated",
    "js",
    "js_embeddings",
    "js_fgan",
    "leave_one_out_upper",
    "make",
    "mine",
    "names",
    "nwj",
    "nwj_embeddings",
    "parse",
    "rate",
    "smile",
    "smile_embeddings",
    "tnce",
    "tuba",
    "uba",
]
