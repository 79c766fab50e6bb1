"""ELBO and IWAE: loss scale, β, and the bounds on a model whose log p(x) is known exactly."""

import math

import pytest
import torch

from vaekit.distributions import Bernoulli, DiagonalGaussian, Gaussian
from vaekit.objectives import ObjectiveConfig, elbo_loss, iwae_bound, iwae_log_weights, make_objective, reconstruction_loss
from vaekit.types import ModelOutput

SIGMA2 = 0.5  # linear-Gaussian model: z ~ N(0, 1), x | z ~ N(z, SIGMA2), so p(x) = N(0, 1 + SIGMA2)


def _decode(z: torch.Tensor) -> Gaussian:
    return Gaussian(z, torch.tensor(math.log(SIGMA2), dtype=z.dtype), data_dims=1)


def _log_px(x: torch.Tensor) -> torch.Tensor:
    return -0.5 * (math.log(2 * math.pi * (1 + SIGMA2)) + x[:, 0] ** 2 / (1 + SIGMA2))


def _exact_posterior(x: torch.Tensor) -> DiagonalGaussian:
    var = SIGMA2 / (1 + SIGMA2)
    return DiagonalGaussian(x / (1 + SIGMA2), torch.full_like(x, math.log(var)))


X = torch.tensor([[-2.0], [0.0], [0.7], [3.0]], dtype=torch.float64)
PRIOR = DiagonalGaussian(torch.zeros_like(X), torch.zeros_like(X))


def test_iwae_with_the_exact_posterior_recovers_log_px_for_any_k():
    for k in (1, 5, 100):
        log_w, _ = iwae_log_weights(X, _exact_posterior(X), PRIOR, _decode, k, torch.Generator().manual_seed(k))
        torch.testing.assert_close(iwae_bound(log_w), _log_px(X))


def test_iwae_bounds_are_ordered_and_tighten_with_k():
    q = DiagonalGaussian(X * 0.3, torch.full_like(X, -2.5))  # a poor proposal
    g = torch.Generator().manual_seed(0)
    n_rep = 4000  # average over repeats: the ordering holds in expectation (Burda et al., Thm 1)
    means = {}
    for k in (1, 10, 100):
        xs = X.repeat(n_rep, 1)
        qs = DiagonalGaussian(q.mu.repeat(n_rep, 1), q.logvar.repeat(n_rep, 1))
        prior = DiagonalGaussian(torch.zeros_like(xs), torch.zeros_like(xs))
        log_w, _ = iwae_log_weights(xs, qs, prior, _decode, k, g)
        means[k] = iwae_bound(log_w).view(n_rep, -1).mean(0)
    exact = _log_px(X)
    assert (means[1] < means[10]).all() and (means[10] < means[100]).all() and (means[100] <= exact + 1e-3).all()
    # Closed-form ELBO of this q: E_q[log N(x; z, SIGMA2)] - KL(q || N(0, 1)); K = 1 estimates it.
    s2 = q.logvar.exp()
    expected_rec = -0.5 * (math.log(2 * math.pi * SIGMA2) + ((X - q.mu) ** 2 + s2) / SIGMA2)
    elbo = expected_rec[:, 0] - q.kl()
    torch.testing.assert_close(means[1], elbo, rtol=0, atol=0.1)
    assert (elbo < exact).all()


def test_iwae_chunking_keeps_shapes_and_bounds_memory():
    q = _exact_posterior(X)
    calls = []

    def decode(z):
        calls.append(z.shape[0] * z.shape[1])
        return _decode(z)

    log_w, log_pxz = iwae_log_weights(X, q, PRIOR, decode, k=50, generator=torch.Generator().manual_seed(0), max_rows=40)
    assert log_w.shape == log_pxz.shape == (50, 4)
    assert max(calls) <= 40 and sum(calls) == 200


def test_iwae_of_one_sample_is_the_log_weight():
    log_w = torch.randn(1, 6)
    torch.testing.assert_close(iwae_bound(log_w), log_w[0])
    torch.testing.assert_close(iwae_bound(torch.zeros(10, 3)), torch.zeros(3))


def _output(seed=0):
    g = torch.Generator().manual_seed(seed)
    posterior = DiagonalGaussian(torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g))
    likelihood = Bernoulli(torch.randn(4, 1, 2, 2, generator=g), data_dims=3)
    prior = DiagonalGaussian.standard(4, 3, posterior.mu)  # N(0, I)
    return ModelOutput(posterior, posterior.mu, likelihood, prior=prior), torch.rand(4, 1, 2, 2, generator=g)


def test_elbo_terms_are_per_example_nats_and_beta_scales_only_the_kl():
    out, x = _output()
    terms = elbo_loss(out, x, ObjectiveConfig())
    assert terms.loss.shape == terms.reconstruction.shape == terms.kl.shape == (4,)
    torch.testing.assert_close(terms.reconstruction, -out.likelihood.log_prob(x))
    torch.testing.assert_close(terms.kl, out.posterior.kl())
    torch.testing.assert_close(terms.loss, terms.reconstruction + terms.kl)  # β = 1: the true -ELBO
    beta4 = elbo_loss(out, x, ObjectiveConfig(beta=4.0))
    torch.testing.assert_close(beta4.reconstruction, terms.reconstruction)
    torch.testing.assert_close(beta4.loss, terms.reconstruction + 4.0 * terms.kl)


def test_elbo_is_summed_over_pixels_not_averaged():
    out, x = _output()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out.likelihood.logits, x, reduction="sum")
    assert elbo_loss(out, x, ObjectiveConfig()).reconstruction.sum().item() == pytest.approx(bce.item(), rel=1e-5)


def test_reconstruction_objective_has_no_kl_and_make_objective_binds_beta():
    out, x = _output()
    assert reconstruction_loss(out, x, ObjectiveConfig()).kl is None
    f = make_objective("elbo", ObjectiveConfig(beta=0.5))
    torch.testing.assert_close(f(out, x).loss, elbo_loss(out, x, ObjectiveConfig(beta=0.5)).loss)


def test_iwae_log_weights_do_not_depend_on_the_chunk_size():
    # The CPU generator fills normals in blocks of 16, so chunks of a multiple of 16 numbers draw
    # the same stream as one big draw (4 examples x 1 dimension: 4, 16 or 32 samples per chunk).
    q = _exact_posterior(X)
    runs = [
        iwae_log_weights(X, q, PRIOR, _decode, k=32, generator=torch.Generator().manual_seed(3), max_rows=rows) for rows in (16, 64, 4000)
    ]
    for log_w, log_pxz in runs[1:]:
        torch.testing.assert_close(log_w, runs[0][0])
        torch.testing.assert_close(log_pxz, runs[0][1])


def test_ms_ssim_reconstruction_is_pytorch_msssims_dissimilarity_and_keeps_the_nll_reported():
    from pytorch_msssim import ms_ssim

    from vaekit.objectives.elbo import ms_ssim_term, ms_ssim_window

    assert [ms_ssim_window(s, s) for s in (28, 32, 33, 64, 96, 161, 256)] == [None, None, 3, 3, 5, 11, 11]
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 40, 40, generator=g)
    assert ms_ssim_term(x, x).abs().max() < 1e-4  # identical images: no dissimilarity
    mean = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    expected = (1 - ms_ssim(mean, x, data_range=1.0, size_average=False, win_size=3)) * 3 * 40 * 40
    torch.testing.assert_close(ms_ssim_term(mean, x), expected)
    torch.testing.assert_close(ms_ssim_term(torch.stack([mean, x]), x), expected / 2)  # K samples: their mean
    posterior = DiagonalGaussian(torch.randn(3, 2, generator=g), torch.zeros(3, 2))
    likelihood = Bernoulli(torch.logit(mean.clamp(1e-3, 1 - 1e-3)), data_dims=3)
    out = ModelOutput(posterior, posterior.mu, likelihood, prior=DiagonalGaussian.standard(3, 2, x))
    plain = elbo_loss(out, x, ObjectiveConfig())
    mixed = elbo_loss(out, x, ObjectiveConfig(reconstruction="ms-ssim", ms_ssim_mix=0.25))
    torch.testing.assert_close(mixed.reconstruction, plain.reconstruction)  # reported: the likelihood's NLL
    perceptual = ms_ssim_term(likelihood.mean, x)
    torch.testing.assert_close(mixed.loss, 0.75 * plain.reconstruction + 0.25 * perceptual + plain.kl)
