"""InfoGAN: the code prior and its entropies, the Barber-Agakov terms, which player each loss trains."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mibounds import bounds
from mibounds.representation import DiagonalGaussian, InfoGAN, InfoGANCodes, InfoGANSample, QOutput


def small_model(**kwargs) -> InfoGAN:
    torch.manual_seed(0)
    return InfoGAN(InfoGANCodes(6, 4, 2), image_size=16, channels=(8, 4), hidden_dim=16, **kwargs)


def test_codes_sample_and_entropies() -> None:
    codes = InfoGANCodes(noise_dim=5, num_categories=4, num_continuous=3)
    sample = codes.sample(2000, torch.Generator().manual_seed(1))
    assert sample.noise.shape == (2000, 5) and sample.continuous.shape == (2000, 3)
    assert set(sample.categorical.tolist()) == {0, 1, 2, 3}
    assert float(sample.continuous.min()) >= -1 and float(sample.continuous.max()) <= 1
    assert codes.entropy_categorical == pytest.approx(math.log(4))
    assert codes.entropy_continuous == pytest.approx(3 * math.log(2))  # h(U[-1, 1]) = log 2 each
    joined = sample.generator_input(4)
    assert joined.shape == (2000, 5 + 4 + 3) and codes.input_dim == 12
    torch.testing.assert_close(joined[:, 5:9], F.one_hot(sample.categorical, 4).float())
    with pytest.raises(ValueError, match="num_categories"):
        InfoGANCodes(num_categories=1)


def test_bounds_are_ba_of_the_q_network() -> None:
    model = small_model()
    sample = model.codes.sample(7, torch.Generator().manual_seed(2))
    images = model.generate(sample)
    assert images.shape == (7, 1, 16, 16) and float(images.detach().min()) >= 0 and float(images.detach().max()) <= 1
    mi = model.mutual_information(images, sample)
    _, q = model.discriminate(images)
    log_q_cat = q.logits.log_softmax(-1)[torch.arange(7), sample.categorical]
    torch.testing.assert_close(mi.categorical, bounds.ba(log_q_cat, math.log(4)))
    mean, log_std = q.continuous.mean, q.continuous.log_std
    normal = torch.distributions.Normal(mean, log_std.exp())
    expected = normal.log_prob(sample.continuous).sum(-1).mean() + 2 * math.log(2)
    torch.testing.assert_close(mi.continuous, expected)
    assert float(mi.categorical.detach()) <= mi.categorical_ceiling


def test_a_q_that_reads_the_code_reaches_the_ceiling() -> None:
    """Logits that single out the true category give log K; a Gaussian centred on the true
    continuous code gives m log 2 + sum(-log sigma - log(2 pi) / 2)."""
    model = small_model()
    sample = model.codes.sample(9, torch.Generator().manual_seed(4))
    log_std = torch.full((9, 2), -2.0)
    q = QOutput(60.0 * F.one_hot(sample.categorical, 4).float(), DiagonalGaussian(sample.continuous, log_std))
    mi = model.code_bounds(q, sample)
    assert float(mi.categorical) == pytest.approx(math.log(4), abs=1e-6)
    expected = 2 * math.log(2) + 2 * (2.0 - 0.5 * math.log(2 * math.pi))
    assert float(mi.continuous) == pytest.approx(expected, rel=1e-6)
    # A reading that ignores the images gives 0 for the categorical code.
    flat = QOutput(torch.zeros(9, 4), DiagonalGaussian(sample.continuous, log_std))
    assert float(model.code_bounds(flat, sample).categorical) == pytest.approx(0.0, abs=1e-6)


def test_each_loss_trains_its_player() -> None:
    model = small_model()
    sample = model.codes.sample(5, torch.Generator().manual_seed(3))
    real = torch.rand(5, 1, 16, 16)
    d_loss, mi = model.discriminator_loss(real, sample)
    d_loss.backward()
    assert all(p.grad is None for p in model.generator.parameters())  # generated images are detached
    assert all(p.grad is not None for p in model.discriminator_parameters())
    assert not mi.categorical.requires_grad
    model.zero_grad(set_to_none=True)
    g_loss, _ = model.generator_loss(sample)
    g_loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    # The generator loss is the non-saturating GAN loss minus the weighted bounds.
    model.eval()
    g_loss, mi = model.generator_loss(sample)
    logits, _ = model.discriminate(model.generate(sample))
    expected = F.softplus(-logits).mean() - mi.categorical - model.continuous_weight * mi.continuous
    torch.testing.assert_close(g_loss, expected)


def test_argument_errors() -> None:
    codes = InfoGANCodes(4, 3, 1)
    with pytest.raises(ValueError, match="divisible by 2\\^2"):
        InfoGAN(codes, image_size=18, channels=(8, 4))
    with pytest.raises(ValueError, match="continuous_weight"):
        InfoGAN(codes, image_size=16, continuous_weight=-1.0)
    model = InfoGAN(codes, image_size=16, channels=(8, 4), hidden_dim=8)
    with pytest.raises(ValueError, match="images must be"):
        model.discriminate(torch.zeros(2, 1, 32, 32))


def test_no_continuous_codes() -> None:
    torch.manual_seed(0)
    model = InfoGAN(InfoGANCodes(4, 3, 0), image_size=8, channels=(4,), hidden_dim=8)
    sample = model.codes.sample(3)
    assert isinstance(sample, InfoGANSample) and sample.continuous.shape == (3, 0)
    mi = model.mutual_information(model.generate(sample), sample)
    assert float(mi.continuous) == 0.0 and mi.continuous_entropy == 0.0
