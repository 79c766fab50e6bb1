"""Closed forms against torch.distributions and Monte Carlo; support checks; sample shapes."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import distributions as td

from vaekit.distributions import Bernoulli, DiagonalGaussian, Gaussian, PointMass, unchecked
from vaekit.errors import DataError
from vaekit.objectives import kl_divergence, kl_monte_carlo


def _gaussian(seed: int, b: int = 5, d: int = 3) -> DiagonalGaussian:
    g = torch.Generator().manual_seed(seed)
    return DiagonalGaussian(torch.randn(b, d, generator=g, dtype=torch.float64), torch.randn(b, d, generator=g, dtype=torch.float64))


def _torch(q: DiagonalGaussian) -> td.Distribution:
    return td.Independent(td.Normal(q.mu, q.std), 1)


def test_kl_to_standard_normal_matches_torch_distributions():
    q = _gaussian(0)
    p = td.Independent(td.Normal(torch.zeros_like(q.mu), torch.ones_like(q.mu)), 1)
    torch.testing.assert_close(kl_divergence(q), td.kl_divergence(_torch(q), p))


def test_kl_between_gaussians_matches_torch_distributions():
    q, p = _gaussian(1), _gaussian(2)
    torch.testing.assert_close(q.kl(p), td.kl_divergence(_torch(q), _torch(p)))


def test_kl_matches_monte_carlo():
    q, p = _gaussian(3), _gaussian(4)
    mc = kl_monte_carlo(q, p, n=200_000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(mc, q.kl(p), rtol=0.02, atol=0.02)
    prior = DiagonalGaussian(torch.zeros_like(q.mu), torch.zeros_like(q.mu))
    torch.testing.assert_close(kl_monte_carlo(q, prior, 200_000, torch.Generator().manual_seed(1)), q.kl(), rtol=0.02, atol=0.02)


def test_kl_is_the_seed_appendix_formula():
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.3]])
    by_hand = 0.5 * sum(math.exp(lv) + m * m - 1 - lv for m, lv in zip(mu[0].tolist(), logvar[0].tolist(), strict=True))
    assert DiagonalGaussian(mu, logvar).kl().item() == pytest.approx(by_hand, rel=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=2), st.lists(st.floats(-5, 5), min_size=2, max_size=2))
def test_kl_is_non_negative_and_zero_only_at_the_prior(mu, logvar):
    q = DiagonalGaussian(torch.tensor([mu], dtype=torch.float64), torch.tensor([logvar], dtype=torch.float64))
    assert q.kl().item() >= 0
    assert DiagonalGaussian(torch.zeros(1, 2), torch.zeros(1, 2)).kl().item() == 0


def test_gaussian_log_prob_matches_torch():
    q = _gaussian(5)
    z = torch.randn(7, 5, 3, dtype=torch.float64)  # K samples in front
    torch.testing.assert_close(q.log_prob(z), _torch(q).log_prob(z))


def test_rsample_is_reparameterized_and_repeatable():
    mu = torch.zeros(4, 2, requires_grad=True)
    q = DiagonalGaussian(mu, torch.zeros(4, 2))
    a = q.rsample(torch.Generator().manual_seed(0))
    b = q.rsample(torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    a.sum().backward()
    assert torch.equal(mu.grad, torch.ones(4, 2))  # dz/dmu = 1
    assert q.rsample(n=3).shape == (3, 4, 2)


def test_bernoulli_log_prob_matches_torch_on_binary_and_grey_data():
    logits = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    x = torch.bernoulli(torch.full((3, 1, 4, 4), 0.4, dtype=torch.float64))
    expected = td.Independent(td.Bernoulli(logits=logits), 3).log_prob(x)
    torch.testing.assert_close(Bernoulli(logits, data_dims=3).log_prob(x), expected)
    grey = torch.rand(3, 1, 4, 4, dtype=torch.float64)  # continuous targets: -BCE
    by_hand = (grey * torch.log(torch.sigmoid(logits)) + (1 - grey) * torch.log(1 - torch.sigmoid(logits))).sum((1, 2, 3))
    torch.testing.assert_close(Bernoulli(logits).log_prob(grey), by_hand)


def test_bernoulli_from_logits_stays_finite_when_confident():
    logits = torch.tensor([[200.0, -200.0]])
    assert torch.isfinite(Bernoulli(logits).log_prob(torch.tensor([[0.0, 1.0]]))).all()


def test_gaussian_likelihood_matches_torch_fixed_and_per_dimension_variance():
    mean = torch.rand(3, 1, 2, 2, dtype=torch.float64)
    x = torch.rand(3, 1, 2, 2, dtype=torch.float64)
    for logvar in (torch.tensor(-2.0, dtype=torch.float64), torch.randn(1, 2, 2, dtype=torch.float64)):
        expected = td.Independent(td.Normal(mean, torch.exp(0.5 * logvar).expand_as(mean)), 3).log_prob(x)
        torch.testing.assert_close(Gaussian(mean, logvar, data_dims=3).log_prob(x), expected)


def test_likelihoods_reduce_only_the_data_dims_with_samples_in_front():
    # Regression: K samples stacked in front once got summed into the batch dimension.
    logits = torch.randn(7, 5, 1, 3, 3)  # (K, B, C, H, W)
    x = torch.rand(5, 1, 3, 3)  # (B, C, H, W)
    lp = Bernoulli(logits, data_dims=3).log_prob(x)
    assert lp.shape == (7, 5)
    torch.testing.assert_close(lp[2], Bernoulli(logits[2], data_dims=3).log_prob(x))
    assert Gaussian(logits, torch.tensor(0.0), data_dims=3).log_prob(x).shape == (7, 5)


def test_bernoulli_rejects_data_outside_the_unit_interval():
    with pytest.raises(DataError, match=r"needs data in \[0, 1\].*\[-0.5, 2\]"):
        Bernoulli(torch.zeros(2, 3)).log_prob(torch.tensor([[0.0, 2.0, 1.0], [-0.5, 0.0, 1.0]]))
    # the trainer checks every split once up front, then scores batches through unchecked copies
    assert torch.isfinite(unchecked(Bernoulli(torch.zeros(1, 1))).log_prob(torch.tensor([[2.0]]))).all()


def test_gaussian_rejects_non_finite_data():
    with pytest.raises(DataError, match="NaN or infinite"):
        Gaussian(torch.zeros(1, 2), torch.tensor(0.0)).log_prob(torch.tensor([[0.0, float("nan")]]))


def test_point_mass_is_its_own_sample():
    v = torch.randn(3, 2)
    assert torch.equal(PointMass(v).rsample(), v) and PointMass(v).rsample(n=4).shape == (4, 3, 2)


def test_continuous_bernoulli_matches_torch_and_the_analytic_normaliser():
    from vaekit.distributions import ContinuousBernoulli

    eta = torch.tensor([-8.0, -0.5, -1e-3, 0.0, 1e-3, 0.3, 4.0, 8.0], dtype=torch.float64)
    x = torch.tensor([0.1, 0.5, 0.2, 0.7, 0.0, 1.0, 0.33, 0.99], dtype=torch.float64)
    cb = ContinuousBernoulli(eta[None], data_dims=1)
    torch.testing.assert_close(cb.log_prob(x[None]), td.ContinuousBernoulli(logits=eta).log_prob(x).sum()[None])
    torch.testing.assert_close(cb.mean[0], td.ContinuousBernoulli(logits=eta).mean)
    # 1 / C = integral of lambda^x (1 - lambda)^(1 - x) dx = sigmoid(-eta) (e^eta - 1) / eta
    nz = eta[eta != 0]
    torch.testing.assert_close(ContinuousBernoulli(nz).log_normalizer(), -torch.log(torch.sigmoid(-nz) * torch.expm1(nz) / nz))
    big = torch.tensor([30.0, -30.0], dtype=torch.float64)  # even in eta; torch's clamped probs drift at +30
    lc = ContinuousBernoulli(big).log_normalizer()
    assert lc[0].item() == pytest.approx(lc[1].item(), abs=1e-12) == pytest.approx(math.log(30), abs=1e-12)
    eta0 = torch.zeros(3, requires_grad=True)
    ContinuousBernoulli(eta0[None]).log_prob(torch.rand(1, 3)).sum().backward()
    assert torch.isfinite(eta0.grad).all()


def test_discretized_logistic_is_a_distribution_over_the_256_levels():
    from vaekit.distributions import DiscretizedLogistic

    grid = torch.arange(256, dtype=torch.float64) / 255
    mean = torch.tensor([0.0, 0.3, 0.999, 0.5], dtype=torch.float64)[:, None].expand(4, 256)
    log_scale = torch.log(torch.tensor([0.01, 0.05, 0.2, 1e-4], dtype=torch.float64))[:, None]
    p = DiscretizedLogistic(mean, log_scale, data_dims=0).log_prob(grid[None].expand(4, 256)).exp()
    torch.testing.assert_close(p.sum(-1), torch.ones(4, dtype=torch.float64))
    # an interior bin by hand: sigma((x + h - m) / s) - sigma((x - h - m) / s)
    x, m, s, h = 100 / 255, 0.4, 0.03, 0.5 / 255
    by_hand = torch.sigmoid(torch.tensor((x + h - m) / s)) - torch.sigmoid(torch.tensor((x - h - m) / s))
    got = DiscretizedLogistic(torch.tensor([[m]]), torch.tensor(math.log(s)), data_dims=1).log_prob(torch.tensor([[x]])).exp()
    assert got.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_bernoulli_log_prob_and_gradient_equal_torch_bce_with_logits_under_broadcasting():
    # log_prob is written as x l - softplus(l) for speed; it must stay the BCE, value and gradient.
    import torch.nn.functional as F

    logits = (torch.randn(6, 4, 1, 5, 5) * 8).requires_grad_(True)  # (K, B, C, H, W), some confident
    logits.data[0, 0, 0, 0, :2] = torch.tensor([60.0, -60.0])
    x = torch.rand(4, 1, 5, 5)  # (B, C, H, W), broadcast over K
    ours = Bernoulli(logits, data_dims=3).log_prob(x)
    (g_ours,) = torch.autograd.grad(ours.sum(), logits)
    ref = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum((2, 3, 4))
    (g_ref,) = torch.autograd.grad(ref.sum(), logits)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-4)
    torch.testing.assert_close(g_ours, g_ref)
    torch.testing.assert_close(g_ours, x - torch.sigmoid(logits.detach()))


def _counts_case():
    torch.manual_seed(0)
    x = torch.poisson(torch.full((5, 7), 2.5))
    x[0, :3] = 0
    log_rho = torch.log_softmax(torch.randn(5, 7), -1)
    log_theta = torch.randn(7) * 0.5
    return x, log_rho, log_theta, x.sum(-1, keepdim=True) * log_rho.exp()  # mean = rho x the observed library


def test_poisson_and_negative_binomial_equal_torch_distributions_at_the_observed_library():
    from vaekit.distributions import NegativeBinomial, Poisson

    x, log_rho, log_theta, mu = _counts_case()
    ours = Poisson(log_rho, torch.tensor(1.0), data_dims=1).log_prob(x)
    torch.testing.assert_close(ours, td.Poisson(mu).log_prob(x).sum(-1))
    theta = log_theta.exp()
    nb = NegativeBinomial(log_rho, torch.tensor(1.0), data_dims=1, log_theta=log_theta).log_prob(x)
    torch.testing.assert_close(nb, td.NegativeBinomial(total_count=theta, probs=mu / (mu + theta)).log_prob(x).sum(-1))


def test_zinb_is_the_hand_computed_mixture_and_means_use_the_library():
    from vaekit.distributions import NegativeBinomial, ZeroInflatedNegativeBinomial

    x, log_rho, log_theta, mu = _counts_case()
    zi = torch.randn(5, 7)
    ours = ZeroInflatedNegativeBinomial(log_rho, torch.tensor(1.0), data_dims=1, log_theta=log_theta, zi_logits=zi).log_prob(x)
    pi, theta = torch.sigmoid(zi), log_theta.exp()
    nb = td.NegativeBinomial(total_count=theta, probs=mu / (mu + theta)).log_prob(x).exp()
    hand = torch.where(x == 0, pi + (1 - pi) * nb, (1 - pi) * nb).log().sum(-1)
    torch.testing.assert_close(ours, hand)
    # means: rho x library, and (1 - pi) of that with zero inflation; with_library sets another library
    half = torch.log(torch.full((1, 2), 0.5))
    nb = NegativeBinomial(half, torch.tensor(4.0), data_dims=1, log_theta=torch.zeros(2))
    torch.testing.assert_close(nb.mean, torch.full((1, 2), 2.0))
    torch.testing.assert_close(nb.with_library(torch.tensor([[10.0]])).mean, torch.full((1, 2), 5.0))
    zinb = ZeroInflatedNegativeBinomial(half, torch.tensor(4.0), data_dims=1, log_theta=torch.zeros(2), zi_logits=torch.zeros(1, 2))
    torch.testing.assert_close(zinb.mean, torch.full((1, 2), 1.0))


def test_count_likelihoods_refuse_what_is_not_a_count_and_sample_counts():
    from vaekit.distributions import NegativeBinomial, Poisson, ZeroInflatedNegativeBinomial

    log_rho = torch.log_softmax(torch.randn(3, 4), -1)
    kinds = [
        Poisson(log_rho, torch.tensor(50.0), data_dims=1),
        NegativeBinomial(log_rho, torch.tensor(50.0), data_dims=1, log_theta=torch.zeros(4)),
        ZeroInflatedNegativeBinomial(log_rho, torch.tensor(50.0), data_dims=1, log_theta=torch.zeros(4), zi_logits=torch.zeros(3, 4)),
    ]
    for p in kinds:
        for bad, shown in ((0.5, "0.5"), (-1.0, "-1"), (float("nan"), "nan")):
            x = torch.ones(3, 4)
            x[1, 2] = bad
            with pytest.raises(DataError, match=rf"needs counts \(whole numbers >= 0\) but the data hold {shown}: give raw counts"):
                p.log_prob(x)
        draws = torch.stack([p.sample(torch.Generator().manual_seed(s)) for s in range(400)])  # (400, 3, 4)
        assert (draws >= 0).all() and torch.equal(draws, draws.round())
        torch.testing.assert_close(draws.mean(0), p.mean, rtol=0.15, atol=0.5)  # samples at the mean library
