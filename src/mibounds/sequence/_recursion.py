r"""The forward recursion as one autograd node: log-space matmuls per frame, a hand-written backward.

Autograd through T frames records about ten small ops per frame and replays them backwards. Here
the forward keeps only the forward scores :math:`\alpha_t` (``[T, B, P]``, written into one
preallocated buffer), and the backward runs the β recursion

.. math::
    \beta_{T-1} = \rho, \qquad
    \beta_{t-1}(p) = \log \sum_q e^{W_{pq} + e_t(q) + \beta_t(q)},

(ρ the final weights, W the transition log-weights, e the emissions on expanded states), then
forms every gradient at once: :math:`\partial \log Z / \partial e_t(p) = \gamma_t(p) =
e^{\alpha_t(p) + \beta_t(p) - \log Z}` (zero at padded frames), by reusing the α buffer. Each
frame is one ``[B, P] @ [P, P]`` product between a shift-and-exp and a log, in place, as in
:func:`~mibounds.sequence.forward_backward.forward_scores`; the values equal those of autograd
through that recursion to float rounding.

Only the emissions get a gradient here; callers use the autograd recursion when the graph's
weights require one (learned graphs, rare). No host synchronization inside the loops.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["log_partition_frames"]


def _shift_of(values: Tensor) -> Tensor:
    """Per-row max ``[B, 1]``, 0 where a whole row is ``-inf`` (no path): a safe shift."""
    return values.amax(dim=-1, keepdim=True).nan_to_num_(neginf=0.0)


class _LogPartition(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        e: Tensor,
        initial: Tensor,
        transition: Tensor,
        final: Tensor,
        lengths: Tensor,
        ragged: bool,
    ) -> Tensor:
        num_frames = e.shape[0]
        column_shift = torch.nan_to_num(transition.amax(dim=0), neginf=0.0)
        exp_transition = torch.exp(transition - column_shift)
        # alphas[t] starts as e_t + column shift; each frame adds log(exp(alpha - m) @ exp(W - c)) + m.
        alphas = torch.add(e, column_shift)
        alphas[0] = initial + e[0]
        if ragged:
            active = (torch.arange(num_frames, device=e.device)[:, None] < lengths[None, :]).unsqueeze(-1)
        alpha = alphas[0]
        scratch = torch.empty_like(alpha)
        product = torch.empty_like(alpha)
        for t in range(1, num_frames):
            shift = _shift_of(alpha)
            torch.sub(alpha, shift, out=scratch).exp_()
            torch.mm(scratch, exp_transition, out=product)
            current = alphas[t]
            current.add_(product.log_()).add_(shift)
            if ragged:  # a finished sequence keeps its last alpha
                torch.where(active[t], current, alpha, out=current)
            alpha = current
        log_z = torch.logsumexp(alpha + final, dim=-1)
        ctx.save_for_backward(e, alphas, transition, final, lengths, log_z)
        ctx.ragged = ragged
        return log_z

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_log_z: Tensor) -> tuple[Tensor | None, ...]:
        e, alphas, transition, final, lengths, log_z = ctx.saved_tensors
        num_frames, batch, _ = e.shape
        row_shift = torch.nan_to_num(transition.amax(dim=1), neginf=0.0)
        exp_transition_t = torch.exp(transition - row_shift[:, None]).T.contiguous()
        final = final.expand(batch, -1)
        beta = final.clone()
        scratch = torch.empty_like(beta)
        product = torch.empty_like(beta)
        for t in range(num_frames - 1, 0, -1):
            alphas[t].add_(beta)  # alpha_t + beta_t, consumed below by the gradient
            torch.add(e[t], beta, out=scratch)
            shift = _shift_of(scratch)
            scratch.sub_(shift).exp_()
            torch.mm(scratch, exp_transition_t, out=product)
            new = product.log_().add_(shift).add_(row_shift)
            if ctx.ragged:  # beta is the final weight at and after a sequence's last frame
                new = torch.where((lengths - 1 > t - 1)[:, None], new, final)
            beta, product = new, (beta if new is product else product)
        alphas[0].add_(beta)
        # gamma_t = exp(alpha_t + beta_t - log Z); sequences with no path (log Z = -inf) get zero.
        finite = torch.isfinite(log_z)
        scale = torch.where(finite, grad_log_z, 0.0)
        gamma = alphas.sub_(torch.where(finite, log_z, 0.0)[:, None]).exp_().mul_(scale[:, None])
        if ctx.ragged:
            valid = torch.arange(num_frames, device=e.device)[:, None] < lengths[None, :]
            gamma.mul_(valid.unsqueeze(-1).to(gamma.dtype))
        return gamma, None, None, None, None, None


def log_partition_frames(e: Tensor, initial: Tensor, transition: Tensor, final: Tensor, lengths: Tensor) -> Tensor:
    r"""Log-partition ``[B]`` of emissions on expanded states, with the hand-written backward.

    Args:
        e: ``[B, T, P]`` emissions on expanded states (padding zeroed). The recursion runs on a
            frame-major copy ``[T, B, P]`` so each frame is one contiguous slab.
        initial: ``[P]`` log-weights of the first frame (no gradient).
        transition: ``[P, P]`` transition log-weights (no gradient).
        final: ``[P]`` final log-weights (no gradient).
        lengths: ``[B]`` valid frames, ``1 <= lengths <= T``.

    Returns:
        ``[B]`` :math:`\log Z` in nats; its gradient reaches ``e`` only.
    """
    ragged = bool((lengths < e.shape[1]).any())
    frames = e.transpose(0, 1).contiguous()
    return _LogPartition.apply(frames, initial.detach(), transition.detach(), final.detach(), lengths, ragged)
