"""FactorVAE's discriminator and the DIP-VAE penalty: known answers on codes whose total
correlation and covariance are known exactly."""

import math

import pytest
import torch

from vaekit.distributions import Bernoulli, DiagonalGaussian
from vaekit.errors import ConfigError
from vaekit.objectives import (
    ObjectiveConfig,
    TCDiscriminator,
    aggregate_covariance,
    dip_penalty,
    dip_vae_loss,
    factor_vae_loss,
    make_objective,
    permute_dims,
)
from vaekit.types import ModelOutput


def _codes(n: int, rho: float, generator: torch.Generator) -> torch.Tensor:
    """n samples of a 2-D Gaussian with unit variances and correlation rho, (n, 2)."""
    a, b = torch.randn(2, n, generator=generator)
    return torch.stack([a, rho * a + math.sqrt(1 - rho**2) * b], dim=1)


def _trained_estimate(rho: float) -> float:
    """The discriminator's mean TC estimate after learning to tell these codes from their shuffle."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    critic = TCDiscriminator(2, hidden=64, layers=2)
    optimizer = torch.optim.Adam(critic.parameters(), lr=3e-3)
    for _ in range(400):
        output = ModelOutput(posterior=None, z=_codes(512, rho, g), likelihood=None)
        loss = critic.critic_loss(output, None, g).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return critic.total_correlation(_codes(20_000, rho, g)).mean().item()


def test_permuting_dimensions_keeps_each_marginal_and_breaks_the_dependence():
    z = _codes(4000, 0.9, torch.Generator().manual_seed(1))
    shuffled = permute_dims(z, torch.Generator().manual_seed(2))
    for d in range(2):  # each column is a permutation of itself
        assert torch.equal(shuffled[:, d].sort().values, z[:, d].sort().values)
    assert torch.corrcoef(z.T)[0, 1] > 0.85 and abs(torch.corrcoef(shuffled.T)[0, 1]) < 0.05


def test_discriminator_tc_estimate_is_zero_for_independent_codes_and_the_true_tc_for_correlated_ones():
    rho = 0.9
    true_tc = -0.5 * math.log(1 - rho**2)  # KL(N(0, Σ) || N(0, I)) with unit variances: 0.830 nats
    assert abs(_trained_estimate(0.0)) < 0.1
    assert _trained_estimate(rho) == pytest.approx(true_tc, abs=0.15)  # measured: 0.887


def test_factor_vae_loss_is_the_elbo_plus_gamma_times_the_estimate():
    g = torch.Generator().manual_seed(0)
    posterior = DiagonalGaussian(torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g) * 0.1)
    z = posterior.rsample(g)
    x = torch.rand(8, 5, generator=g).round()
    output = ModelOutput(posterior=posterior, z=z, likelihood=Bernoulli(torch.randn(8, 5, generator=g), data_dims=1))
    critic = TCDiscriminator(3, hidden=8, layers=1)
    terms = factor_vae_loss(output, x, ObjectiveConfig(gamma=7.0), critic=critic)
    elbo = -output.likelihood.log_prob(x) + posterior.kl()
    assert torch.allclose(terms.loss, elbo + 7.0 * critic.total_correlation(z))
    assert torch.equal(terms.penalty, critic.total_correlation(z)) and torch.equal(terms.kl, posterior.kl())
    bound = make_objective("factor", ObjectiveConfig(), latent_dim=3)
    assert isinstance(bound.critic, TCDiscriminator) and bound(output, x).loss.shape == (8,)
    with pytest.raises(ConfigError, match="needs latent_dim"):
        make_objective("factor", ObjectiveConfig())
    assert make_objective("elbo", ObjectiveConfig()).critic is None


def test_dip_covariances_and_penalty_have_their_closed_forms():
    mu = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])  # Cov[mu] = diag(0.5, 2)
    logvar = torch.log(torch.tensor([[0.5, 1.0]])).expand(4, 2)
    posterior = DiagonalGaussian(mu, logvar)
    assert torch.allclose(aggregate_covariance(posterior, "i"), torch.diag(torch.tensor([0.5, 2.0])))
    assert torch.allclose(aggregate_covariance(posterior, "ii"), torch.diag(torch.tensor([1.0, 3.0])))
    cov = torch.tensor([[1.0, 0.3], [0.3, 2.0]])
    assert dip_penalty(cov, 10.0, 5.0).item() == pytest.approx(10 * 2 * 0.09 + 5 * 1.0)
    assert dip_penalty(torch.eye(3), 10.0, 100.0).item() == 0.0


@pytest.mark.parametrize(("kind", "lambda_d"), [("i", 100.0), ("ii", 10.0)])
def test_dip_vae_loss_adds_the_penalty_once_per_batch(kind, lambda_d):
    g = torch.Generator().manual_seed(0)
    posterior = DiagonalGaussian(torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g) * 0.1)
    x = torch.rand(6, 4, generator=g).round()
    output = ModelOutput(posterior=posterior, z=posterior.rsample(g), likelihood=Bernoulli(torch.randn(6, 4, generator=g), data_dims=1))
    terms = dip_vae_loss(output, x, ObjectiveConfig(dip_type=kind))  # λ_d defaults to 10 λ_od (i) or λ_od (ii)
    expected = dip_penalty(aggregate_covariance(posterior, kind), 10.0, lambda_d)
    assert torch.allclose(terms.penalty, expected.expand(6))
    assert torch.allclose(terms.loss.mean(), (-output.likelihood.log_prob(x) + posterior.kl()).mean() + expected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gamma": -1.0}, "--gamma must be 0 or more"),
        ({"gamma": float("nan")}, "gamma"),
        ({"critic_lr": 0.0}, "--critic-lr must be positive"),
        ({"dip_lambda_od": -2.0}, "--dip-lambda-od must be 0 or more"),
        ({"dip_lambda_d": -1.0}, "--dip-lambda-d must be 0 or more"),
        ({"dip_type": "iii"}, "unknown --dip-type .iii.; choose one of: i, ii"),
    ],
)
def test_bad_factor_and_dip_options_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        ObjectiveConfig(**options)
