"""AMDIM: encoder shapes, the score layout, the objective as the package's InfoNCE, gradient flow."""

from __future__ import annotations

import math

import pytest
import torch

from mibounds import bounds
from mibounds.representation import AMDIM, MultiscaleEncoder


def setup(clip: float | None = 20.0, score_penalty: float = 0.05) -> tuple[MultiscaleEncoder, AMDIM, torch.Tensor]:
    torch.manual_seed(0)
    encoder = MultiscaleEncoder(1, 8, global_dim=6, channels=(4, 8, 10))
    amdim = AMDIM(8, 10, 6, embed_dim=5, hidden_dim=7, clip=clip, score_penalty=score_penalty)
    return encoder, amdim, torch.rand(5, 1, 8, 8)


def test_encoder_shapes() -> None:
    encoder, _, images = setup()
    out = encoder(images)
    assert out.fine.shape == (5, 8, 4, 4) and out.coarse.shape == (5, 10, 2, 2) and out.global_.shape == (5, 6)
    assert (encoder.fine_channels, encoder.coarse_channels, encoder.global_dim) == (8, 10, 6)


def test_score_layout() -> None:
    _, amdim, _ = setup()
    keys, queries = torch.randn(5, 5, 16), torch.randn(5, 5, 4)  # [B, E, L], [B, E, Q]
    scores = amdim.raw_scores(keys, queries)
    assert scores.shape == (4, 16, 5, 5)
    q, loc, i, j = 3, 9, 1, 4
    # x (rows, partitioned over) are the predicted view's features; y (columns) the predicting view's.
    torch.testing.assert_close(scores[q, loc, i, j], keys[i, :, loc] @ queries[j, :, q] / math.sqrt(5))


def directed(amdim: AMDIM, a, b, clip: float | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The three terms written out with bounds.infonce per matrix, and the raw score matrices."""
    gq = amdim.global_query(a.global_)[:, :, None]
    cq = amdim.coarse_query(a.coarse).flatten(2)
    fk = amdim.fine_key(b.fine).flatten(2)
    ck = amdim.coarse_key(b.coarse).flatten(2)
    raw = [amdim.raw_scores(fk, gq), amdim.raw_scores(ck, gq), amdim.raw_scores(ck, cq)]
    assert [tuple(s.shape) for s in raw] == [(1, 16, 5, 5), (1, 4, 5, 5), (4, 4, 5, 5)]
    terms = []
    for s in raw:
        clipped = s if clip is None else clip * torch.tanh(s / clip)
        terms.append(torch.stack([bounds.infonce(m) for m in clipped.reshape(-1, 5, 5)]).mean())
    return terms, raw


@pytest.mark.parametrize("clip", [20.0, 0.5, None])
def test_objective_is_minus_the_mean_infonce_of_three_terms_both_ways_plus_the_penalty(clip: float | None) -> None:
    encoder, amdim, images = setup(clip=clip)
    a, b = encoder(images), encoder(images + 0.1 * torch.randn_like(images))
    result = amdim(a, b)
    ab, raw_ab = directed(amdim, a, b, clip)
    ba, raw_ba = directed(amdim, b, a, clip)
    terms = [0.5 * (x + y) for x, y in zip(ab, ba, strict=True)]
    square = 0.5 * (
        torch.cat([s.flatten() for s in raw_ab]).square().mean()
        + torch.cat([s.flatten() for s in raw_ba]).square().mean()
    )
    torch.testing.assert_close(result.loss, -(terms[0] + terms[1] + terms[2]) + 0.05 * square)
    torch.testing.assert_close(result.global_fine_mi, terms[0].detach())
    torch.testing.assert_close(result.global_coarse_mi, terms[1].detach())
    torch.testing.assert_close(result.coarse_coarse_mi, terms[2].detach())
    torch.testing.assert_close(result.score_penalty, square.detach())
    for value in (result.global_fine_mi, result.global_coarse_mi, result.coarse_coarse_mi):
        assert value <= math.log(5) and not value.requires_grad


def test_soft_clip_bounds_the_scores() -> None:
    encoder, amdim, images = setup(clip=0.5)
    out = encoder(images)
    huge = amdim.raw_scores(torch.full((5, 5, 4), 100.0), torch.full((5, 5, 1), 100.0))
    assert float(amdim._clip(huge).abs().max()) <= 0.5
    assert amdim(out, out).loss.isfinite()


def test_gradients_reach_every_parameter() -> None:
    encoder, amdim, images = setup()
    amdim(encoder(images), encoder(images.flip(-1))).loss.backward()
    for name, p in [*encoder.named_parameters(), *amdim.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_argument_and_shape_errors() -> None:
    encoder, amdim, images = setup()
    with pytest.raises(ValueError, match="3 convolutions"):
        MultiscaleEncoder(1, 8, 6, channels=(4, 8))
    with pytest.raises(ValueError, match="divisible by 4"):
        MultiscaleEncoder(1, 10, 6)
    with pytest.raises(ValueError, match="clip"):
        AMDIM(8, 10, 6, clip=0.0)
    with pytest.raises(ValueError, match="score_penalty"):
        AMDIM(8, 10, 6, score_penalty=-1.0)
    out, other = encoder(images), encoder(images[:4])
    with pytest.raises(ValueError, match="same shapes"):
        amdim(out, other)
