r"""The forward recursion as one autograd node, in scaled linear space, with a hand-written backward.

Autograd through T frames records about ten small ops per frame and replays them backwards. Here
each frame of the forward is one ``[B, P] @ [P, P]`` product, an elementwise product and a
normalization (Rabiner's scaled forward-backward): with :math:`\hat p_t = e^{e_t - m_t}` (the
frame's emissions shifted by their maximum :math:`m_t`, exponentiated once for all frames) and
:math:`A = e^{W - \max W}`,

.. math::
    \tilde a_t = (\hat a_{t-1} A) \circ \hat p_t, \qquad s_t = \textstyle\sum_p \tilde a_t(p), \qquad
    \hat a_t = \tilde a_t / s_t, \qquad
    \log Z = \textstyle\sum_t (\log s_t + m_t) + \log \sum_p \hat a_{T-1}(p) e^{\rho(p)},

so the loop holds no exponential or logarithm. The backward runs the β recursion the same way,
:math:`\hat b_{t-1} \propto A (\hat p_t \circ \hat b_t)`, and every gradient follows without the
scales of β: :math:`\partial \log Z / \partial e_t(p) = \gamma_t(p) = \hat a_t(p) \hat b_t(p) /
\sum_q \hat a_t(q) \hat b_t(q)`, because :math:`\alpha_t(p) \beta_t(p) / Z` is the posterior of
state p at frame t and :math:`\hat a_t \hat b_t` differs from :math:`\alpha_t \beta_t` by a factor
that does not depend on p. Padded frames get zero.

The exponentials are the only place a float can underflow: a state more than about 77 nats
(float32; 698 in float64) below the best state of its frame would silently drop its paths. Rows
whose finite scores spread that far within a frame, rows left with no mass (no path at all) and
graphs whose weights spread that far are recomputed by the log-space recursion (``_LogPartition``:
per frame, a shift by the best state, an exponential, the product and a logarithm), which loses only
states that are negligible after the transitions, and gives -inf with zero gradient to a row with
no path. Values equal those of autograd through
:func:`~mibounds.sequence._expanded.forward_scores` to float rounding.

Only the emissions get a gradient here; callers use the autograd recursion when the graph's
weights require one (learned graphs, rare). :mod:`~mibounds.sequence._pairs` forms its pairs'
probabilities as products of the two sequences' own and shares :func:`scaled_forward` and
:func:`scaled_backward`. No host synchronization inside the loops (one per call, to see whether
any row needs the log-space recursion).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["frame_range", "frame_spread", "log_partition_frames"]


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


def scaled_forward(
    probs: Tensor, shifts: Tensor, exp_transition: Tensor, final: Tensor, lengths: Tensor, ragged: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """The scaled α recursion over ``probs`` ``[T, B, P]`` (frame 0 already weighted by the initial weights).

    ``probs[t] = exp(e_t - shifts[t])``; returns ``(log Z [B], alphas [T, B, P], exp_final [P])``, the
    alphas normalized per frame. A row with no mass left comes out NaN (0 / 0) and stays NaN.
    """
    num_frames = probs.shape[0]
    alphas = torch.empty_like(probs)
    scales = torch.empty_like(shifts)
    alpha = alphas[0]
    torch.sum(probs[0], dim=-1, keepdim=True, out=scales[0])
    torch.div(probs[0], scales[0], out=alpha)
    if ragged:
        active = (torch.arange(num_frames, device=probs.device)[:, None] < lengths[None, :]).unsqueeze(-1)
    for t in range(1, num_frames):
        current, scale = alphas[t], scales[t]
        torch.mm(alpha, exp_transition, out=current).mul_(probs[t])
        torch.sum(current, dim=-1, keepdim=True, out=scale)
        current.div_(scale)
        if ragged:  # a finished sequence keeps its last alpha and adds nothing to log Z
            torch.where(active[t], current, alpha, out=current)
            scale.masked_fill_(~active[t], 1.0)
        alpha = current
    if ragged:
        shifts = shifts.masked_fill(~active, 0.0)
    final_shift = torch.nan_to_num(final.amax(), neginf=0.0)
    exp_final = torch.exp(final - final_shift)
    log_z = scales.log_().add_(shifts).sum(0).squeeze(-1)
    log_z += (alpha @ exp_final).log_() + final_shift
    return log_z, alphas, exp_final


def scaled_backward(
    probs: Tensor,
    alphas: Tensor,
    exp_transition: Tensor,
    exp_final: Tensor,
    lengths: Tensor,
    log_z: Tensor,
    grad_log_z: Tensor,
    ragged: bool,
) -> Tensor:
    """The scaled β recursion and γ = ∂ log Z / ∂ e, ``[T, B, P]``, formed in the ``alphas`` buffer.

    Rows that are not finite in ``log_z`` (left to the log-space recursion) get zero.
    """
    num_frames, batch, _ = probs.shape
    exp_transition_t = exp_transition.T.contiguous()
    final = exp_final.expand(batch, -1)
    beta = final.clone()
    scratch = torch.empty_like(beta)
    for t in range(num_frames - 1, 0, -1):
        alphas[t].mul_(beta)  # a_t b_t: gamma_t up to its normalization, formed below
        torch.mul(probs[t], beta, out=scratch)
        new = torch.mm(scratch, exp_transition_t)
        new.div_(new.sum(dim=-1, keepdim=True))  # the scale of beta never enters gamma
        if ragged:  # beta is the final weight at and after a sequence's last frame
            new = torch.where((lengths - 1 > t - 1)[:, None], new, final)
        beta = new
    alphas[0].mul_(beta)
    gamma = alphas.div_(alphas.sum(dim=-1, keepdim=True))
    finite = torch.isfinite(log_z)
    if not bool(finite.all()):  # NaN rows of gamma
        gamma[:, ~finite] = 0.0
    gamma.mul_(torch.where(finite, grad_log_z, 0.0)[:, None])
    if ragged:
        valid = torch.arange(num_frames, device=probs.device)[:, None] < lengths[None, :]
        gamma.mul_(valid.unsqueeze(-1).to(gamma.dtype))
    return gamma


def weight_first_frame(probs: Tensor, shifts: Tensor, first: Tensor, initial: Tensor) -> None:
    """Frame 0 of ``probs`` and ``shifts`` in place from its scores ``first`` ``[B, P]`` and the initial weights."""
    weighted = initial + first
    shift = _shift_of(weighted)
    shifts[0] = shift
    torch.sub(weighted, shift, out=probs[0]).exp_()


class _ScaledLogPartition(torch.autograd.Function):
    """log Z of frame-major emissions ``[T, B, P]`` by the scaled recursion; gradient to the emissions."""

    @staticmethod
    def forward(
        ctx: Any,
        e: Tensor,
        shifts: Tensor,
        initial: Tensor,
        exp_transition: Tensor,
        final: Tensor,
        lengths: Tensor,
        ragged: bool,
    ) -> Tensor:
        shifts = shifts.clone()  # frame 0's entry is replaced below
        probs = torch.sub(e, shifts).exp_()  # exp(e_t - m_t) <= 1: one exponential for all frames
        weight_first_frame(probs, shifts, e[0], initial)
        log_z, alphas, exp_final = scaled_forward(probs, shifts, exp_transition, final, lengths, ragged)
        ctx.save_for_backward(probs, alphas, exp_transition, exp_final, lengths, log_z)
        ctx.ragged = ragged
        return log_z

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_log_z: Tensor) -> tuple[Tensor | None, ...]:
        probs, alphas, exp_transition, exp_final, lengths, log_z = ctx.saved_tensors
        gamma = scaled_backward(probs, alphas, exp_transition, exp_final, lengths, log_z, grad_log_z, ctx.ragged)
        return gamma, None, None, None, None, None, None


def scaled_weights(initial: Tensor, transition: Tensor, final: Tensor) -> tuple[Tensor, Tensor] | None:
    """``(exp(W - max W), max W)`` for the scaled recursion, or None (then log space) if a finite
    initial, transition or final log-weight lies too far below the others' maximum to exponentiate."""
    spreads = torch.stack([frame_spread(w.reshape(1, 1, -1))[0] for w in (initial, transition, final)])
    if bool((spreads > spread_limit(transition.dtype)).any()):
        return None
    w_max = torch.nan_to_num(transition.amax(), neginf=0.0)
    return torch.exp(transition - w_max), w_max


def spread_limit(dtype: torch.dtype) -> float:
    """The largest spread of log-weights whose exponentials (shifted by the maximum) stay normal floats."""
    return -math.log(torch.finfo(dtype).tiny) - 10.0


def frame_range(frames: Tensor) -> tuple[Tensor, Tensor]:
    """Each frame's shift and each row's spread, in one pass over the scores.

    Args:
        frames: ``[T, B, P]`` scores, frame-major (-inf entries are forbidden states).

    Returns:
        ``(shifts [T, B, 1], spread [B])``: each frame's largest score (0 where none is finite),
        and per row the largest spread (max - min) of the finite scores within one frame.
    """
    high = frames.amax(dim=-1, keepdim=True)  # -inf entries never win
    low = torch.where(torch.isfinite(frames), frames, math.inf).amin(dim=-1, keepdim=True)
    spread = (high - low).clamp_min(0.0).amax(dim=0).squeeze(-1)  # no finite score: -inf, clamped to 0
    return high.nan_to_num_(neginf=0.0), spread


def frame_spread(frames: Tensor) -> Tensor:
    """Per row, the largest spread (max - min) of the finite scores within one frame: ``[B]``
    (see :func:`frame_range`)."""
    return frame_range(frames)[1]


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
    frames = e.transpose(0, 1).contiguous()
    num_frames = frames.shape[0]
    ragged = bool((lengths < num_frames).any())
    weights = (initial.detach(), transition.detach(), final.detach())
    # The scaled recursion needs exp(e_t - m_t) and exp(W - max W) without underflow (a state whose
    # weight underflows would silently drop its paths): rows whose finite scores within a frame
    # spread beyond the float's range go to log space, and so does everything if the weights do.
    scaled = scaled_weights(*weights)
    if scaled is None:
        return _LogPartition.apply(frames, *weights, lengths, ragged)
    with torch.no_grad():
        shifts, spread = frame_range(frames)
    log_z = _ScaledLogPartition.apply(frames, shifts, weights[0], scaled[0], weights[2], lengths, ragged)
    log_z = log_z + (lengths.clamp(max=num_frames) - 1).to(log_z.dtype) * scaled[1]
    wide = spread > spread_limit(frames.dtype)
    return redo_lost_rows(log_z, wide, lambda rows: frames[:, rows], weights, lengths, ragged)


def redo_lost_rows(
    log_z: Tensor,
    wide: Tensor,
    frames_of: Callable[[Tensor], Tensor],
    weights: tuple[Tensor, Tensor, Tensor],
    lengths: Tensor,
    ragged: bool,
) -> Tensor:
    """``log_z`` with the rows that are ``wide`` or not finite recomputed by the log-space recursion.

    ``frames_of(rows)`` gives those rows' frame-major emissions ``[T, R, P]`` (with their gradient).
    """
    lost = wide | ~torch.isfinite(log_z)
    if not bool(lost.any()):
        return log_z
    rows = lost.nonzero().squeeze(1)
    exact = _LogPartition.apply(frames_of(rows), *weights, lengths[rows], ragged)
    return log_z.index_put((rows,), exact)
