r"""The forward recursion as one autograd node: a scaled matmul per frame, a hand-written backward.

Autograd through T frames records about ten small ops per frame and replays them backwards. Here
the log-semiring recursion runs on exponentials with a log-scale kept per sequence and frame
(Rabiner's scaling, the same idea as the shift-and-exp of
:func:`~mibounds.sequence.forward_backward.forward_scores`), so each frame is one
``[B, P] @ [P, P]`` product, an elementwise product and a renormalization, and no ``exp``/``log``
of a ``[B, P]`` slab:

.. math::
    \alpha_t = \log a_t + \ell_t,\quad
    a_t \propto (a_{t-1} E^W) \odot E_t,\quad E^W = e^{W - c},\quad
    E_t = e^{e_t + c - m_t},

with ``c`` the column max of the transition log-weights W, ``m_t`` the row max of ``e_t + c``
(every ``E_t`` is computed in one bulk ``exp`` before the loop), ``a_t`` scaled to a row max of 1
and :math:`\ell_t` the accumulated log-scale. The backward is the β recursion in the same form,

.. math::
    b_{t-1} \propto (E_t \odot b_t)\, (E^W)^\top,\qquad b_{T-1} \propto e^{\rho},

and every gradient at once, :math:`\partial\log Z/\partial e_t = \gamma_t = a_t \odot b_t\,
e^{\ell_t + n_t - \log Z}` (zero at padded frames). Values equal autograd through the log-space
recursion to float rounding. Precision: an entry more than about 87 nats (float32; 708 in float64)
below the largest of its frame's product underflows, as in the log-space recursion.

Only the emissions get a gradient here; callers use autograd through the log-space recursion when
the graph's weights require one (learned graphs, rare). No host synchronization inside the loops.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["log_partition_frames"]


def _finite(x: Tensor) -> Tensor:
    """``x`` with ``-inf`` (a row with no path) replaced by 0, for use as a shift."""
    return x.nan_to_num(neginf=0.0)


def _normalize_(values: Tensor) -> Tensor:
    """Divide each row by its max in place (rows of zeros stay zero); return the log of the max ``[B]``."""
    peak = values.amax(dim=-1, keepdim=True)
    values.div_(peak.clamp(min=torch.finfo(values.dtype).tiny))
    return peak.squeeze(-1).log()


class _LogPartition(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, e: Tensor, initial: Tensor, transition: Tensor, final: Tensor,  # type: ignore[override]
                lengths: Tensor, ragged: bool) -> Tensor:
        batch, num_frames, _ = e.shape
        column_shift = _finite(transition.amax(dim=0))
        exp_transition = torch.exp(transition - column_shift)
        # Bulk: e_t + c and E_t = exp(e_t + c - m_t) for every frame; frame 0 holds the initial weights.
        shifted = torch.add(e, column_shift)
        shifted[:, 0] = initial + e[:, 0]
        frame_shift = _finite(shifted.amax(dim=-1, keepdim=True))
        scaled = (shifted - frame_shift).exp_()
        frame_shift = frame_shift.squeeze(-1)  # [B, T]
        alphas = torch.empty_like(e)  # a_t, each row scaled to a max of 1
        log_scale = torch.empty_like(frame_shift)  # l_t
        if ragged:
            active = lengths[:, None] > torch.arange(num_frames, device=e.device)[None, :]
        mixed = torch.ones((batch, e.shape[2]), dtype=e.dtype, device=e.device)
        product = torch.empty_like(mixed)  # contiguous: reductions and products on a strided slab are slower
        tiny = torch.finfo(e.dtype).tiny
        for t in range(num_frames):
            if t > 0:
                torch.mm(alphas[:, t - 1], exp_transition, out=mixed)
            torch.mul(mixed, scaled[:, t], out=product)
            peak, arg = product.max(dim=-1, keepdim=True)
            product.div_(peak.clamp_(min=tiny))
            # log(peak) + m_t, taken at the peak's entry as log(mix) + (e_t + c): no exp/log round
            # trip, so a single surviving path accumulates exactly the sum of its scores.
            step = (mixed.gather(-1, arg).log_() + shifted[:, t].gather(-1, arg)).squeeze(-1)
            if t == 0:
                alphas[:, 0] = product
                log_scale[:, 0] = step
            elif ragged:  # a finished sequence keeps its last alpha
                alphas[:, t] = torch.where(active[:, t, None], product, alphas[:, t - 1])
                log_scale[:, t] = torch.where(active[:, t], log_scale[:, t - 1] + step, log_scale[:, t - 1])
            else:
                alphas[:, t] = product
                torch.add(log_scale[:, t - 1], step, out=log_scale[:, t])
        log_z = torch.logsumexp(alphas[:, -1].log() + final, dim=-1) + log_scale[:, -1]
        ctx.save_for_backward(scaled, frame_shift, alphas, log_scale, exp_transition, final, lengths, log_z)
        ctx.ragged = ragged
        return log_z

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_log_z: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        scaled, frame_shift, alphas, log_scale, exp_transition, final, lengths, log_z = ctx.saved_tensors
        batch, num_frames, _ = scaled.shape
        final_shift = _finite(final.amax())
        exp_final = torch.exp(final - final_shift)
        # One extra column holds each row's sum: the product returns its own normalizer (no reduction).
        exp_transition_t = exp_transition.T
        augmented = torch.cat([exp_transition_t, exp_transition_t.sum(dim=1, keepdim=True)], dim=1)
        num_states = exp_transition.shape[0]
        tiny = torch.finfo(scaled.dtype).tiny
        # b_{T-1} = exp(final - shift), scale n = shift. alphas becomes gamma frame by frame.
        b_final = exp_final.expand(batch, -1)
        n_final = final_shift.expand(batch)
        b, n = b_final.clone(), n_final.clone()
        log_weight = torch.empty_like(log_scale)  # l_t + n_t
        buffers = [torch.empty((batch, num_states + 1), dtype=scaled.dtype, device=scaled.device) for _ in range(2)]
        for t in range(num_frames - 1, 0, -1):
            alphas[:, t].mul_(b)
            torch.add(log_scale[:, t], n, out=log_weight[:, t])
            out = buffers[t % 2]  # the other one may still hold b
            torch.mm(torch.mul(scaled[:, t], b), augmented, out=out)
            product, total = out[:, :num_states], out[:, num_states]
            product.div_(total.clamp(min=tiny)[:, None])
            new_n = n + frame_shift[:, t] + total.log()
            if ctx.ragged:  # b is the final weight at and after a sequence's last frame
                inside = lengths > t
                product = torch.where(inside[:, None], product, b_final)
                new_n = torch.where(inside, new_n, n_final)
            b, n = product, new_n
        alphas[:, 0].mul_(b)
        log_weight[:, 0] = log_scale[:, 0] + n
        # gamma_t = a_t * b_t * exp(l_t + n_t - log Z); sequences with no path (log Z = -inf) get zero.
        finite = torch.isfinite(log_z)
        scale = torch.where(finite, grad_log_z, 0.0)
        weight = (log_weight - torch.where(finite, log_z, 0.0)[:, None]).exp_().mul_(scale[:, None])
        if ctx.ragged:
            weight.mul_((lengths[:, None] > torch.arange(num_frames, device=scaled.device)[None, :]).to(weight.dtype))
        gamma = alphas.mul_(weight.unsqueeze(-1))
        return gamma, None, None, None, None, None


def log_partition_frames(e: Tensor, initial: Tensor, transition: Tensor, final: Tensor, lengths: Tensor) -> Tensor:
    r"""Log-partition ``[B]`` of emissions on expanded states, with the hand-written backward.

    Args:
        e: ``[B, T, P]`` emissions on expanded states (padding zeroed); each frame is a ``[B, P]``
            slab with row stride ``T * P``, which the matmuls take as is.
        initial: ``[P]`` log-weights of the first frame (no gradient).
        transition: ``[P, P]`` transition log-weights (no gradient).
        final: ``[P]`` final log-weights (no gradient).
        lengths: ``[B]`` valid frames, ``1 <= lengths <= T``.

    Returns:
        ``[B]`` :math:`\log Z` in nats; its gradient reaches ``e`` only.
    """
    ragged = bool((lengths < e.shape[1]).any())
    return _LogPartition.apply(e.contiguous(), initial.detach(), transition.detach(), final.detach(), lengths, ragged)
