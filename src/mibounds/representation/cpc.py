r"""Contrastive Predictive Coding: an encoder, an autoregressive context, k-step contrastive prediction.

A sequence ``x_1..x_T`` is encoded step by step, ``z_t = g_enc(x_t)``; a GRU summarizes the past,
``c_t = g_ar(z_{\le t})``; for each horizon ``k = 1..K`` a bilinear critic scores a candidate
future code against the context,

.. math::
    f_k(z_{t+k}, c_t) = z_{t+k}^\top W_k\, c_t,

and the loss is the bound (InfoNCE by default) averaged over horizons and time steps. At a given
``(t, k)`` the score matrix is ``scores[i, j] = f_k(z^{(i)}_{t+k}, c^{(j)}_t)`` over the B
sequences of the batch: the future codes are the x (partitioned over), the contexts the y, and
the other sequences' futures at the same time are the negatives. Each horizon's readout is a
lower bound on :math:`I(z_{t+k}; c_t)` (averaged over t), at most ``log B`` for InfoNCE.

Reference:
    van den Oord, Li, Vinyals (2018). Representation Learning with Contrastive Predictive Coding.
    arXiv:1807.03748.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from mibounds.representation.losses import _score_only_bound, mean_bound
from mibounds.validation import check_int

__all__ = ["CPC", "CPCResult"]


@dataclass(frozen=True)
class CPCResult:
    """What :class:`CPC` returns.

    Attributes:
        loss: 0-d tensor to minimize: minus the bound averaged over horizons.
        mi_per_step: ``[horizon]``, detached: the bound for horizon k = 1..K (nats).
        codes: ``[B, T, code_dim]``, the per-step codes z_t.
        context: ``[B, T, context_dim]``, the contexts c_t (the usual downstream representation).
    """

    loss: Tensor
    mi_per_step: Tensor
    codes: Tensor
    context: Tensor


class CPC(nn.Module):
    """Contrastive Predictive Coding around any per-step encoder.

    Args:
        encoder: Maps one step ``[N, *step_shape]`` to codes ``[N, code_dim]``; it is applied to
            the ``B*T`` steps of a batch at once.
        code_dim: Size of the codes z_t.
        context_dim: Size of the GRU state c_t.
        horizon: K, the number of future steps predicted (one bilinear critic each).
        bound: ``"infonce"`` (CPC's choice), ``"js"``, ``"dv"``, ``"nwj"`` or ``"smile"``, optionally
            with a parameter (``"smile:5"``, see :func:`mibounds.bounds.parse`).
        num_layers: GRU layers.
        **bound_params: The bound's hyper-parameters.

    Example:
        >>> import torch
        >>> cpc = CPC(torch.nn.Linear(3, 8), code_dim=8, context_dim=16, horizon=2)
        >>> result = cpc(torch.randn(4, 10, 3))
        >>> tuple(result.mi_per_step.shape), tuple(result.context.shape)
        ((2,), (4, 10, 16))
    """

    def __init__(
        self,
        encoder: nn.Module,
        code_dim: int,
        context_dim: int = 64,
        horizon: int = 4,
        bound: str = "infonce",
        num_layers: int = 1,
        **bound_params: Any,
    ) -> None:
        super().__init__()
        info, bound_params = _score_only_bound(bound, bound_params)
        if "state" in info.needs:
            raise ValueError(f"bound {info.name!r} keeps state across batches; CPC needs a stateless bound")
        horizon = check_int(horizon, "horizon", minimum=1, why="how many future steps to predict")
        self.encoder = encoder
        self.autoregressive = nn.GRU(code_dim, context_dim, num_layers=num_layers, batch_first=True)
        self.predictors = nn.ModuleList(nn.Linear(context_dim, code_dim, bias=False) for _ in range(horizon))
        self.horizon, self.code_dim = horizon, code_dim
        self.bound, self.bound_params = info.name, dict(bound_params)

    def encode(self, sequences: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, T, *step_shape]`` to ``(codes [B, T, code_dim], context [B, T, context_dim])``."""
        b, t = sequences.shape[:2]
        codes = self.encoder(sequences.reshape(b * t, *sequences.shape[2:])).reshape(b, t, -1)
        if codes.shape[-1] != self.code_dim:
            raise ValueError(f"the encoder returned codes of size {codes.shape[-1]}, expected code_dim={self.code_dim}")
        context, _ = self.autoregressive(codes)
        return codes, context

    def forward(self, sequences: Tensor) -> CPCResult:
        """The CPC loss for ``sequences [B, T, *step_shape]`` (needs ``T > horizon``)."""
        if sequences.dim() < 3:
            raise ValueError(f"sequences must be [B, T, *step_shape], got shape {tuple(sequences.shape)}")
        b, t = sequences.shape[:2]
        if t <= self.horizon:
            raise ValueError(
                f"sequences have T = {t} steps; predicting {self.horizon} steps ahead needs T > {self.horizon}"
            )
        if b < 2:
            raise ValueError("CPC needs at least 2 sequences per batch: the other sequences are the negatives")
        codes, context = self.encode(sequences)
        values = []
        for k, predictor in enumerate(self.predictors, start=1):
            future = codes[:, k:]  # [B, T-k, D]: z_{t+k}
            predicted = predictor(context[:, :-k])  # [B, T-k, D]: W_k c_t
            scores = torch.einsum("itd,jtd->tij", future, predicted)  # [T-k, B, B]
            values.append(mean_bound(scores, self.bound, **self.bound_params))
        per_step = torch.stack(values)
        return CPCResult(loss=-per_step.mean(), mi_per_step=per_step.detach(), codes=codes, context=context)
