r"""MI bounds as training losses over embeddings, with the MI readout each loss certifies.

Two embeddings of paired samples, ``x [B, d]`` and ``y [B, d]`` (two views, an image and its code,
a context and its future), are turned into a score matrix by a similarity divided by a
temperature,

.. math::
    S_{ij} = \mathrm{sim}(x_i, y_j) / \tau,

with positives on the diagonal and, as everywhere in :mod:`mibounds`, the partition taken over x
for each y (``logsumexp`` over ``dim=0``). A bound of :mod:`mibounds.bounds` applied to ``S`` is
the quantity maximized; the loss is its negative (for InfoNCE, the cross-entropy
:math:`\log K - I_\mathrm{NCE}`, the usual contrastive loss).

The modules (:class:`InfoNCELoss`, :class:`MILoss`, :class:`JSLoss`, :class:`DVLoss`,
:class:`NWJLoss`) return the loss tensor, like ``torch.nn`` losses, and keep the batch's
:class:`MILossResult` in ``last_readout`` (or return it with ``return_readout=True``; the
convention is :mod:`mibounds.representation.readout`'s). The functional forms
(:func:`infonce_loss`, :func:`mi_loss`) return the :class:`MILossResult`: the loss to minimize,
the MI readout in nats (the lower bound on I(x; y) the batch certifies; for InfoNCE
``log K - loss``), and the ceiling of that readout (``log K`` for InfoNCE, where K counts every
candidate, queue negatives and other processes' samples included; None for the unbounded JS / DV
/ NWJ readouts).

Multi-process negatives: with ``distributed=True`` (the default) and an initialized process
group, embeddings are gathered from every process with
:func:`mibounds.representation.all_gather_with_grad`; see its module for the gradient convention
(the DDP average of the parameter gradients equals the single-process gradient on the
concatenated batch). Without a process group the local batch is used.

References:
    van den Oord, Li, Vinyals (2018), CPC (arXiv:1807.03748); Chen et al. (2020), SimCLR
    (arXiv:2002.05709); He et al. (2020), MoCo (arXiv:1911.05722), for queue negatives;
    Radford et al. (2021), CLIP, for the learnable temperature; Poole et al. (2019)
    (arXiv:1905.06922) for the bounds.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mibounds import bounds
from mibounds.bounds.chunked import infonce_partition
from mibounds.representation._checks import check_embeddings, check_extra, check_similarity
from mibounds.representation.distributed import all_gather_with_grad
from mibounds.representation.readout import MILossResult, ReadoutLoss
from mibounds.validation import check_int, check_positive
from mibounds.validation.tensors import check_temperature

__all__ = [
    "DVLoss",
    "InfoNCELoss",
    "JSLoss",
    "MILoss",
    "MILossResult",
    "NWJLoss",
    "infonce_loss",
    "mean_bound",
    "mi_loss",
    "similarity_matrix",
]

#: With ``block_size=None``, InfoNCE switches to row blocks (never holding the ``[K, B]`` score
#: matrix) from this many score entries on; below it the matrix is small and autograd is as fast.
CHUNKED_MIN_ENTRIES = 2**20

Similarity = Literal["cosine", "dot"]


def similarity_matrix(x: Tensor, y: Tensor, similarity: str = "cosine") -> Tensor:
    r"""Pairwise similarities ``[N, M]``: ``out[i, j] = sim(x_i, y_j)``.

    ``"cosine"``: :math:`x_i^\top y_j / (\|x_i\|\|y_j\|)` (in [-1, 1]); ``"dot"``:
    :math:`x_i^\top y_j`.

    Args:
        x: ``[N, d]``.
        y: ``[M, d]``.
        similarity: ``"cosine"`` or ``"dot"``.

    Returns:
        ``[N, M]`` tensor.
    """
    if check_similarity(similarity) == "cosine":
        x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    return x @ y.T


def _infonce_log_probs(scores: Tensor, offset: int = 0) -> Tensor:
    """Per column j, the log-probability of the positive row ``offset + j`` among all rows.

    ``scores`` is ``[..., N, M]`` (rows: x candidates, columns: y); returns ``[..., M]``. With
    ``N = M`` and ``offset = 0`` the mean plus ``log N`` is :func:`mibounds.bounds.infonce`; the
    general form lets the candidates include other processes' samples and queue negatives.
    """
    cols = torch.arange(scores.shape[-1], device=scores.device)
    positives = scores[..., offset + cols, cols]
    return positives - torch.logsumexp(scores, dim=-2)


def _chunked_infonce_loss(
    candidates: Tensor,
    queries: Tensor,
    offset: int,
    temperature: float | Tensor,
    similarity: str,
    block_size: int | None,
    both_directions: bool = False,
) -> Tensor:
    """``-mean_j log softmax_i(S)[offset + j, j]`` for ``S = sim(candidates, queries) / tau``, in row blocks.

    Same value and gradient as the materialized loss, in O((K + B) d) memory (see
    :mod:`mibounds.bounds.chunked`). ``both_directions`` (square S, offset 0) averages it with the
    loss of ``S.T``, sharing the blocks.
    """
    if check_similarity(similarity) == "cosine":
        candidates, queries = F.normalize(candidates, dim=-1), F.normalize(queries, dim=-1)
    candidates = candidates / temperature
    b = queries.shape[0]
    positives = (candidates[offset : offset + b] * queries).sum(dim=-1).mean()
    return infonce_partition(candidates, queries, symmetric=both_directions, block_size=block_size) - positives


def infonce_loss(
    x: Tensor,
    y: Tensor,
    *,
    temperature: float | Tensor = 0.1,
    similarity: str = "cosine",
    symmetric: bool = True,
    extra_x: Tensor | None = None,
    extra_y: Tensor | None = None,
    distributed: bool = True,
    group: Any = None,
    block_size: int | None = None,
) -> MILossResult:
    r"""InfoNCE (contrastive cross-entropy) between paired embeddings.

    For each local ``y_j`` the positive ``x_j`` is classified among K candidates (the x of every
    process, then ``extra_x``):

    .. math::
        \mathcal{L} = -\frac1B\sum_j \log\frac{e^{S_{jj}}}{\sum_{i=1}^{K} e^{S_{ij}}},\qquad
        \hat I = \log K - \mathcal{L} \le \log K,

    :math:`\hat I` being :func:`mibounds.bounds.infonce` on the same scores when there is one
    process and no extra negatives. ``symmetric=True`` also classifies each local ``x_i`` among
    the y candidates and averages the two losses (and the two readouts).

    Args:
        x: ``[B, d]`` embeddings (the side partitioned over).
        y: ``[B, d]`` embeddings, row i paired with row i of x.
        temperature: :math:`\tau > 0`, a float or a 0-d tensor (learnable).
        similarity: ``"cosine"`` or ``"dot"``.
        symmetric: Average both classification directions.
        extra_x: ``[Q, d]`` extra x negatives (e.g. a queue), no gradient needed.
        extra_y: ``[Q', d]`` extra y negatives for the symmetric direction.
        distributed: Gather x and y from every process when a process group is initialized.
        group: The process group (default: the world).
        block_size: Compute in blocks of this many rows of the score matrix, never holding the
            ``[K, B]`` matrix (same value and gradient, O((K + B) d) memory; see
            :mod:`mibounds.bounds.chunked`). None: blocks of about a million entries once
            ``K * B >= CHUNKED_MIN_ENTRIES``, the materialized matrix below.

    Returns:
        :class:`MILossResult` (readout and ceiling of this process's share of the batch).

    Example:
        >>> import torch
        >>> z = torch.randn(16, 8)
        >>> result = infonce_loss(z, z + 0.01 * torch.randn(16, 8))
        >>> bool(result.mi <= result.ceiling)
        True
    """
    check_embeddings(x, y)
    temperature = check_temperature(temperature)
    extra_x, extra_y = check_extra(extra_x, x, "extra_x"), check_extra(extra_y, y, "extra_y")
    x_all, offset = all_gather_with_grad(x, group) if distributed else (x, 0)
    y_all, _ = all_gather_with_grad(y, group) if distributed else (y, 0)

    if block_size is not None and (int(block_size) != block_size or block_size < 1):
        raise ValueError(f"block_size must be a positive integer or None, got {block_size}")
    candidates_x = x_all if extra_x is None else torch.cat([x_all, extra_x.detach()])
    candidates_y = y_all if extra_y is None else torch.cat([y_all, extra_y.detach()])
    k, k_t = candidates_x.shape[0], candidates_y.shape[0]
    chunked = block_size is not None or k * y.shape[0] >= CHUNKED_MIN_ENTRIES
    same_matrix = candidates_y is y and candidates_x is x  # one process, no queue
    if chunked and symmetric and same_matrix:  # both directions from one pass over S
        loss = _chunked_infonce_loss(x, y, 0, temperature, similarity, block_size, both_directions=True)
        readout, ceiling = math.log(k) - loss.detach(), math.log(k)
        return MILossResult(loss=loss, mi=readout, ceiling=ceiling, batch_size=k)
    if chunked:
        loss = _chunked_infonce_loss(candidates_x, y, offset, temperature, similarity, block_size)
    else:
        scores = similarity_matrix(candidates_x, y, similarity) / temperature  # [K, B]
        loss = -_infonce_log_probs(scores, offset).mean()
    readout = math.log(k) - loss.detach()
    ceiling = math.log(k)
    if symmetric:
        if chunked:
            loss_t = _chunked_infonce_loss(candidates_y, x, offset, temperature, similarity, block_size)
        else:
            scores_t = scores.T if same_matrix else similarity_matrix(candidates_y, x, similarity) / temperature
            loss_t = -_infonce_log_probs(scores_t, offset).mean()
        loss = 0.5 * (loss + loss_t)
        readout = 0.5 * (readout + math.log(k_t) - loss_t.detach())
        ceiling = 0.5 * (ceiling + math.log(k_t))
    return MILossResult(loss=loss, mi=readout, ceiling=ceiling, batch_size=k)


def mi_loss(
    x: Tensor,
    y: Tensor,
    bound: str | bounds.Bound = "js",
    *,
    temperature: float | Tensor = 1.0,
    similarity: str = "cosine",
    symmetric: bool = False,
    distributed: bool = True,
    group: Any = None,
    **bound_params: Any,
) -> MILossResult:
    r"""A score-based bound of :mod:`mibounds.bounds` as a loss between paired embeddings.

    Builds :math:`S_{ij} = \mathrm{sim}(x_i, y_j)/\tau` on the whole batch (gathered from every
    process, so each process computes the same square matrix and the same value), and returns
    ``loss = -bound(S)`` with the readout ``mi = bound(S)`` (detached). Bounds whose partition
    term does not split over columns (DV's log-mean-exp) need the whole matrix, hence the
    gathered square matrix; see :mod:`mibounds.representation.distributed` for why the gradient
    convention is the same as :func:`infonce_loss`'s. The bound's value/gradient split is kept:
    ``"js"`` trains the f-GAN JS objective and reads out NWJ on ``S + 1``.

    Args:
        x: ``[B, d]`` embeddings.
        y: ``[B, d]`` embeddings, row i paired with row i of x.
        bound: A registry name needing only scores (``"js"``, ``"dv"``, ``"nwj"``,
            ``"infonce"``, ``"smile"``), or a :class:`mibounds.bounds.Bound` module (to keep
            MINE's moving average across calls, as :class:`MILoss` does).
        temperature: :math:`\tau > 0`, a float or a 0-d tensor (learnable).
        similarity: ``"cosine"`` or ``"dot"``.
        symmetric: Average the bound on ``S`` and on ``S.T``.
        **bound_params: Hyper-parameters of a bound given by name (e.g. ``clip=5.0`` for smile).

    Returns:
        :class:`MILossResult`.

    Example:
        >>> import torch
        >>> z = torch.randn(16, 8)
        >>> mi_loss(z, z, "dv").batch_size
        16
    """
    check_embeddings(x, y)
    temperature = check_temperature(temperature)
    if isinstance(bound, str):
        info, bound_params = _score_only_bound(bound, bound_params)
        bound = bounds.make(info.name, **bound_params)
    elif bound_params:
        raise ValueError("pass the hyper-parameters to the Bound module, not to mi_loss")
    if distributed:
        x, y = all_gather_with_grad(x, group).tensor, all_gather_with_grad(y, group).tensor
    scores = similarity_matrix(x, y, similarity) / temperature
    value = bound(scores)
    if symmetric:
        value = 0.5 * (value + bound(scores.T))
    k = scores.shape[0]
    return MILossResult(loss=-value, mi=value.detach(), ceiling=bound.ceiling(k), batch_size=k)


def _score_only_bound(bound: str, params: dict[str, Any]) -> tuple[bounds.BoundInfo, dict[str, Any]]:
    """The registry entry and parameters of a bound label that needs only scores (and state)."""
    info, params = bounds.parse(bound, **params)
    if not info.score_based or set(info.needs) - {"scores", "state"}:
        usable = [
            n for n in bounds.names(kind="lower", score_based=True) if set(bounds.get(n).needs) <= {"scores", "state"}
        ]
        raise ValueError(
            f"bound {info.name!r} needs {', '.join(info.needs)}; an embedding loss can use the "
            f"bounds that need only scores: {', '.join(usable)}"
        )
    return info, params


def mean_bound(scores: Tensor, bound: str = "infonce", **params: Any) -> Tensor:
    """The mean of a score-only bound over a stack of score matrices ``[..., K, K]``.

    Used where one model yields many score matrices at once: one per spatial location (Deep
    InfoMax's local term), one per time step and horizon (CPC). InfoNCE is computed in one
    vectorized pass; the other bounds are applied matrix by matrix.

    Args:
        scores: ``[..., K, K]``, each ``[K, K]`` slice following the score convention.
        bound: A stateless score-only bound: ``"infonce"``, ``"js"``, ``"dv"``, ``"nwj"``,
            ``"smile"``.
        **params: The bound's hyper-parameters.

    Returns:
        0-d tensor: the mean of the bound's values (and of its training gradients).
    """
    info, params = _score_only_bound(bound, params)
    if "state" in info.needs:
        raise ValueError(f"bound {info.name!r} keeps state across batches; use a stateless bound here")
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must be [..., K, K], got shape {tuple(scores.shape)}")
    k = scores.shape[-1]
    if k < 2:
        raise ValueError(f"scores are {k} x {k}: a bound needs at least K = 2 pairs per matrix")
    if info.name == "infonce":
        unknown = set(params) - {"symmetric"}
        if unknown:
            raise ValueError(
                f"bound 'infonce' has no parameter {', '.join(sorted(unknown))}; its parameters: symmetric"
            )
        terms = _infonce_log_probs(scores).mean()
        if params.get("symmetric", False):
            terms = 0.5 * (terms + _infonce_log_probs(scores.transpose(-1, -2)).mean())
        return math.log(k) + terms
    flat = scores.reshape(-1, k, k)
    return torch.stack([info.fn(s, **params) for s in flat]).mean()


class _EmbeddingScores(ReadoutLoss):
    """Temperature (fixed or learnable, stored as its log) and similarity, shared by the losses;
    the readout convention of :class:`~mibounds.representation.readout.ReadoutLoss`."""

    log_temperature: Tensor

    def __init__(
        self,
        temperature: float,
        learnable_temperature: bool,
        similarity: str,
        min_temperature: float,
        return_readout: bool,
    ) -> None:
        super().__init__(return_readout)
        temperature = check_positive(temperature, "temperature")
        self.min_temperature = check_positive(min_temperature, "min_temperature")
        if temperature < self.min_temperature:
            raise ValueError(
                f"temperature {temperature} is below min_temperature {self.min_temperature}; "
                "raise the temperature or lower min_temperature"
            )
        self.similarity = check_similarity(similarity)
        log_t = torch.tensor(math.log(temperature))
        if learnable_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)

    @property
    def learnable_temperature(self) -> bool:
        """True when the temperature is a parameter."""
        return isinstance(self.log_temperature, nn.Parameter)

    @property
    def temperature(self) -> Tensor:
        """The current temperature, clamped below at ``min_temperature`` (CLIP's guard)."""
        return self.log_temperature.clamp(min=math.log(self.min_temperature)).exp()


class InfoNCELoss(_EmbeddingScores):
    r"""InfoNCE contrastive loss over paired embeddings, with its MI readout.

    ``forward(x, y)`` returns the cross-entropy of classifying each ``y_j``'s positive among K x
    candidates (see :func:`infonce_loss`), a 0-d tensor, and keeps the batch's
    :class:`MILossResult` in ``last_readout``: ``mi = log K - loss``, ``ceiling = log K`` and
    ``batch_size = K`` (see :mod:`mibounds.representation.readout`). With ``queue_size > 0`` the module keeps the
    most recent ``queue_size`` gathered x (and, if symmetric, y) embeddings, detached, as extra
    negatives (MoCo's queue; the embeddings are stale, so pair it with a slowly moving key
    encoder as MoCo does). The queue is updated only in training mode.

    Args:
        temperature: Initial :math:`\tau > 0`.
        learnable_temperature: Learn :math:`\log\tau` (it then receives gradients).
        similarity: ``"cosine"`` or ``"dot"``.
        symmetric: Average both directions (two-view training).
        queue_size: Number of past embeddings kept as extra negatives (0: none).
        embed_dim: Embedding size, required when ``queue_size > 0``.
        distributed: Gather negatives from every process when a process group is initialized.
        group: The process group (default: the world).
        min_temperature: Lower clamp of the temperature.
        block_size: Rows of the score matrix per block (see :func:`infonce_loss`); None: blocks
            when K·B is large, the materialized matrix otherwise.
        return_readout: Return the :class:`MILossResult` instead of the loss tensor.

    Example:
        >>> import torch
        >>> loss_fn = InfoNCELoss(temperature=0.1)
        >>> z = torch.randn(32, 16, requires_grad=True)
        >>> loss_fn(z, z + 0.1 * torch.randn(32, 16)).backward()
        >>> loss_fn.last_readout.ceiling == math.log(32), bool(loss_fn.last_readout.mi <= math.log(32))
        (True, True)
    """

    queue_x: Tensor
    queue_y: Tensor
    queue_count: Tensor
    queue_next: Tensor

    def __init__(
        self,
        temperature: float = 0.1,
        learnable_temperature: bool = False,
        similarity: str = "cosine",
        symmetric: bool = True,
        queue_size: int = 0,
        embed_dim: int | None = None,
        distributed: bool = True,
        group: Any = None,
        min_temperature: float = 1e-2,
        block_size: int | None = None,
        return_readout: bool = False,
    ) -> None:
        super().__init__(temperature, learnable_temperature, similarity, min_temperature, return_readout)
        self.symmetric = bool(symmetric)
        self.distributed = bool(distributed)
        self.group = group
        if block_size is not None and (int(block_size) != block_size or block_size < 1):
            raise ValueError(f"block_size must be a positive integer or None, got {block_size}")
        self.block_size = block_size
        self.queue_size = check_int(queue_size, "queue_size", minimum=0)
        if self.queue_size:
            if embed_dim is None or int(embed_dim) < 1:
                raise ValueError(
                    f"a queue needs the embedding size: pass embed_dim (got {embed_dim!r}) with queue_size={queue_size}"
                )
            self.register_buffer("queue_x", torch.zeros(self.queue_size, int(embed_dim)))
            self.register_buffer("queue_y", torch.zeros(self.queue_size, int(embed_dim)))
            self.register_buffer("queue_count", torch.zeros((), dtype=torch.long))
            self.register_buffer("queue_next", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def _enqueue(self, x_all: Tensor, y_all: Tensor) -> None:
        rows = min(x_all.shape[0], self.queue_size)
        start = int(self.queue_next)
        slots = (start + torch.arange(rows, device=self.queue_x.device)) % self.queue_size
        self.queue_x[slots] = x_all[-rows:].detach().to(self.queue_x)
        self.queue_y[slots] = y_all[-rows:].detach().to(self.queue_y)
        self.queue_next.fill_((start + rows) % self.queue_size)
        self.queue_count.fill_(min(int(self.queue_count) + rows, self.queue_size))

    def forward(self, x: Tensor, y: Tensor) -> Tensor | MILossResult:
        """The loss for paired embeddings ``x``, ``y`` ``[B, d]`` (its readout: ``last_readout``)."""
        extra_x = extra_y = None
        if self.queue_size:
            count = int(self.queue_count)
            extra_x, extra_y = self.queue_x[:count], (self.queue_y[:count] if self.symmetric else None)
        result = infonce_loss(
            x,
            y,
            temperature=self.temperature,
            similarity=self.similarity,
            symmetric=self.symmetric,
            extra_x=extra_x,
            extra_y=extra_y,
            distributed=self.distributed,
            group=self.group,
            block_size=self.block_size,
        )
        if self.queue_size and self.training:
            # Other processes' samples too, so every process keeps the same queue.
            x_all = all_gather_with_grad(x.detach(), self.group).tensor if self.distributed else x
            y_all = all_gather_with_grad(y.detach(), self.group).tensor if self.distributed else y
            self._enqueue(x_all, y_all)
        return self.emit(result)

    def extra_repr(self) -> str:
        return (
            f"temperature={float(self.temperature.detach()):.4g}, learnable={self.learnable_temperature}, "
            f"similarity={self.similarity!r}, symmetric={self.symmetric}, queue_size={self.queue_size}"
            + (", return_readout=True" if self.return_readout else "")
        )


class MILoss(_EmbeddingScores):
    r"""A score-based bound as a loss between paired embeddings (the JS, DV, NWJ families).

    ``forward(x, y)`` builds :math:`S = \mathrm{sim}(x, y)/\tau` over the (gathered) batch and
    returns ``-bound(S)``, a 0-d tensor, keeping the batch's :class:`MILossResult` (``mi =
    bound(S)`` detached, the bound's ceiling) in ``last_readout`` (see
    :mod:`mibounds.representation.readout`). The value/gradient split of the bound is kept: ``"js"`` trains the f-GAN JS
    objective and reads out NWJ on ``S + 1``; ``"mine"`` keeps its moving average in this module.

    Args:
        bound: ``"js"``, ``"dv"``, ``"nwj"``, ``"infonce"``, ``"smile"`` or ``"mine"``.
        temperature: Initial :math:`\tau > 0`.
        learnable_temperature: Learn :math:`\log\tau`.
        similarity: ``"cosine"`` or ``"dot"``.
        symmetric: Average the bound on ``S`` and ``S.T`` (not with ``"mine"``).
        distributed: Gather from every process when a process group is initialized.
        group: The process group.
        min_temperature: Lower clamp of the temperature.
        return_readout: Return the :class:`MILossResult` instead of the loss tensor.
        **bound_params: The bound's hyper-parameters (``clip`` for smile, ``rate`` for mine).

    Example:
        >>> import torch
        >>> loss_fn = MILoss("smile:5", temperature=0.5)
        >>> z = torch.randn(16, 8)
        >>> loss = loss_fn(z, z + 0.1 * torch.randn(16, 8))
        >>> torch.equal(loss, -loss_fn.last_readout.mi), loss_fn.last_readout.ceiling
        (True, None)
    """

    def __init__(
        self,
        bound: str = "js",
        temperature: float = 1.0,
        learnable_temperature: bool = False,
        similarity: str = "cosine",
        symmetric: bool = False,
        distributed: bool = True,
        group: Any = None,
        min_temperature: float = 1e-2,
        return_readout: bool = False,
        **bound_params: Any,
    ) -> None:
        super().__init__(temperature, learnable_temperature, similarity, min_temperature, return_readout)
        info, bound_params = _score_only_bound(bound, bound_params)
        if symmetric and "state" in info.needs:
            raise ValueError(f"bound {info.name!r} keeps a moving average; use symmetric=False with it")
        self.bound = bounds.make(info.name, **bound_params)
        self.symmetric = bool(symmetric)
        self.distributed = bool(distributed)
        self.group = group

    def forward(self, x: Tensor, y: Tensor) -> Tensor | MILossResult:
        """The loss for paired embeddings ``x``, ``y`` ``[B, d]`` (its readout: ``last_readout``)."""
        result = mi_loss(
            x,
            y,
            self.bound,
            temperature=self.temperature,
            similarity=self.similarity,
            symmetric=self.symmetric,
            distributed=self.distributed,
            group=self.group,
        )
        return self.emit(result)

    def extra_repr(self) -> str:
        return (
            f"bound={self.bound.name!r}, temperature={float(self.temperature.detach()):.4g}, "
            f"learnable={self.learnable_temperature}, similarity={self.similarity!r}, "
            f"symmetric={self.symmetric}" + (", return_readout=True" if self.return_readout else "")
        )


class JSLoss(MILoss):
    """:class:`MILoss` with the Jensen-Shannon bound (f-GAN JS gradient, NWJ readout)."""

    def __init__(self, temperature: float = 1.0, **kwargs: Any) -> None:
        super().__init__("js", temperature=temperature, **kwargs)


class DVLoss(MILoss):
    """:class:`MILoss` with the Donsker-Varadhan bound."""

    def __init__(self, temperature: float = 1.0, **kwargs: Any) -> None:
        super().__init__("dv", temperature=temperature, **kwargs)


class NWJLoss(MILoss):
    """:class:`MILoss` with the NWJ (f-MINE) bound."""

    def __init__(self, temperature: float = 1.0, **kwargs: Any) -> None:
        super().__init__("nwj", temperature=temperature, **kwargs)
