"""ST-DIM: score layout of both terms, the objective as the package's InfoNCE, gradient flow."""

from __future__ import annotations

import math

import pytest
import torch

from mibounds import bounds
from mibounds.representation import STDIM, ConvEncoder


def setup() -> tuple[ConvEncoder, STDIM, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    encoder = ConvEncoder(1, 16, code_dim=6, channels=(4, 8))
    return encoder, STDIM(encoder.feature_channels, 6), torch.rand(5, 1, 16, 16), torch.rand(5, 1, 16, 16)


def test_score_layout() -> None:
    encoder, stdim, x_t, x_next = setup()
    (m_t, _), (m_next, g_next) = encoder(x_t), encoder(x_next)
    gl, ll = stdim.global_local_scores(m_t, g_next), stdim.local_local_scores(m_t, m_next)
    assert gl.shape == ll.shape == (16, 5, 5)  # 4x4 locations, B x B each
    loc, i, j = 6, 3, 1
    row, col = divmod(loc, 4)
    # x (rows, partitioned over) are frame t+1; y (columns) the frame-t patch.
    torch.testing.assert_close(gl[loc, i, j], g_next[i] @ stdim.global_local.weight.T @ m_t[j, :, row, col])
    torch.testing.assert_close(ll[loc, i, j], m_next[i, :, row, col] @ stdim.local_local.weight.T @ m_t[j, :, row, col])


def test_objective_is_minus_the_mean_infonce_of_both_terms() -> None:
    encoder, stdim, x_t, x_next = setup()
    (m_t, _), (m_next, g_next) = encoder(x_t), encoder(x_next)
    result = stdim(m_t, g_next, m_next)
    gl = torch.stack([bounds.infonce(s) for s in stdim.global_local_scores(m_t, g_next)]).mean()
    ll = torch.stack([bounds.infonce(s) for s in stdim.local_local_scores(m_t, m_next)]).mean()
    torch.testing.assert_close(result.loss, -(gl + ll))
    torch.testing.assert_close(result.global_local_mi, gl.detach())
    torch.testing.assert_close(result.local_local_mi, ll.detach())
    assert max(float(gl.detach()), float(ll.detach())) <= math.log(5)


def test_gradients_reach_every_parameter() -> None:
    encoder, stdim, x_t, x_next = setup()
    maps, codes = encoder(torch.cat([x_t, x_next]))
    stdim(maps[:5], codes[5:], maps[5:]).loss.backward()
    for name, p in [*encoder.named_parameters(), *stdim.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_shape_errors() -> None:
    _, stdim, _, _ = setup()
    with pytest.raises(ValueError, match="same shape"):
        stdim(torch.zeros(5, 8, 4, 4), torch.zeros(5, 6), torch.zeros(5, 8, 2, 2))
    with pytest.raises(ValueError, match="global_next"):
        stdim(torch.zeros(5, 8, 4, 4), torch.zeros(4, 6), torch.zeros(5, 8, 4, 4))
