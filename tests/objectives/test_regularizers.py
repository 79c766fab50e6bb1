"""Each regulariser and schedule against a hand computation on a tiny case."""

import math

import pytest
import torch

from vaekit.distributions import Bernoulli, DiagonalGaussian, Gaussian
from vaekit.models import ModelConfig, build_model
from vaekit.models.corruption import corrupt
from vaekit.objectives import (
    ObjectiveConfig,
    capacity,
    elbo_loss,
    free_bits_kl,
    iwae_bound,
    iwae_loss,
    kl_sparsity,
    kl_weight,
    l1_activity,
    sparse_loss,
)
from vaekit.types import ModelOutput, Step


def test_kl_warmup_and_cyclical_annealing_by_hand():
    assert [kl_weight(s, 100, warmup_steps=10) for s in (0, 5, 10, 50)] == [0.0, 0.5, 1.0, 1.0]
    # Fu et al. (2019): 4 cycles over 100 steps (period 25), rising over the first half of each
    assert kl_weight(0, 100, cycles=4) == 0.0
    assert kl_weight(6, 100, cycles=4) == pytest.approx(6 / 12.5)
    assert kl_weight(13, 100, cycles=4) == 1.0 and kl_weight(25, 100, cycles=4) == 0.0
    assert kl_weight(None, 100, warmup_steps=10, cycles=4) == 1.0  # validation: the end of every schedule


def test_capacity_schedule_by_hand():
    assert [capacity(s, 25.0, 100) for s in (0, 40, 100, 500, None)] == [0.0, 10.0, 25.0, 25.0, 25.0]


def test_free_bits_floor_each_dimension_of_the_batch_mean():
    kl = torch.tensor([[0.1, 2.0], [0.3, 1.0]], requires_grad=True)  # dimension means 0.2 and 1.5
    paid = free_bits_kl(kl, 0.5)
    torch.testing.assert_close(paid, torch.tensor([2.5, 1.5]))  # dim 0 pays the floor 0.5
    assert paid.mean().item() == pytest.approx(max(0.5, 0.2) + max(0.5, 1.5))
    paid.sum().backward()
    assert kl.grad[:, 0].abs().sum() == 0 and (kl.grad[:, 1] == 1).all()  # no gradient under the floor


def _output(k: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q = DiagonalGaussian(torch.randn(3, 2, generator=g, requires_grad=True), torch.randn(3, 2, generator=g))
    z = q.rsample(g, n=k if k > 1 else None)
    logits = torch.randn(*z.shape[:-1], 1, 2, 2, generator=g)
    return ModelOutput(q, z, Bernoulli(logits, data_dims=3), prior=DiagonalGaussian.standard(3, 2, z)), torch.rand(3, 1, 2, 2, generator=g)


def test_capacity_form_is_gamma_times_distance_to_the_target():
    out, x = _output()
    config = ObjectiveConfig(capacity=2.0, capacity_steps=10, capacity_gamma=100.0)
    terms = elbo_loss(out, x, config, Step(5, 20))  # C = 1.0 nats at step 5 of 10
    kl = out.posterior.kl()
    expected = terms.reconstruction.mean() + 100.0 * (kl.mean() - 1.0).abs()
    assert terms.loss.mean().item() == pytest.approx(expected.item(), rel=1e-6)
    # the gradient is the batch form's too
    (g1,) = torch.autograd.grad(terms.loss.mean(), out.posterior.mu, retain_graph=True)
    (g2,) = torch.autograd.grad(expected, out.posterior.mu)
    torch.testing.assert_close(g1, g2)


def test_warmup_weights_only_the_kl_and_reports_the_true_kl():
    out, x = _output()
    half = elbo_loss(out, x, ObjectiveConfig(beta=2.0, kl_warmup_steps=10), Step(5, 100))  # weight 2 * 0.5
    torch.testing.assert_close(half.loss, half.reconstruction + 1.0 * half.kl)
    torch.testing.assert_close(half.kl, out.posterior.kl())


def test_elbo_with_k_samples_averages_the_reconstruction():
    out, x = _output(k=4)
    terms = elbo_loss(out, x, ObjectiveConfig())
    torch.testing.assert_close(terms.reconstruction, -out.likelihood.log_prob(x).mean(0))


def test_iwae_loss_by_hand_and_against_the_elbo():
    out, x = _output(k=6)
    q, z = out.posterior, out.z
    log_w = out.likelihood.log_prob(x) + DiagonalGaussian(torch.zeros(3, 2), torch.zeros(3, 2)).log_prob(z) - q.log_prob(z)  # (6, 3)
    by_hand = -(torch.logsumexp(log_w, 0) - math.log(6))
    torch.testing.assert_close(iwae_loss(out, x, ObjectiveConfig()).loss, by_hand)
    assert (iwae_loss(out, x, ObjectiveConfig()).loss <= -log_w.mean(0) + 1e-6).all()  # IWAE >= the K-sample mean ELBO


def test_iwae_loss_is_exact_with_the_true_posterior():
    # z ~ N(0, 1), x | z ~ N(z, 0.5): p(x) = N(0, 1.5); the exact posterior makes every weight p(x)
    x = torch.tensor([[-1.0], [0.5]])
    q = DiagonalGaussian(x / 1.5, torch.full_like(x, math.log(0.5 / 1.5)))
    z = q.rsample(torch.Generator().manual_seed(0), n=7)  # (7, 2, 1)
    out = ModelOutput(q, z, Gaussian(z, torch.tensor(math.log(0.5)), data_dims=1), prior=DiagonalGaussian.standard(2, 1, x))
    log_px = -0.5 * (math.log(2 * math.pi * 1.5) + x[:, 0] ** 2 / 1.5)
    torch.testing.assert_close(-iwae_loss(out, x, ObjectiveConfig()).loss, log_px)
    assert iwae_bound(torch.zeros(3, 1)).item() == 0


def test_sparsity_penalties_by_hand():
    z = torch.tensor([[0.1, 0.4], [0.1, 0.6]])
    torch.testing.assert_close(l1_activity(z), torch.tensor([0.5, 0.7]))
    rho = 0.1  # rho_hat = (0.1, 0.5): the first unit is on target, the second pays KL(0.1 || 0.5)
    expected = rho * math.log(rho / 0.5) + (1 - rho) * math.log((1 - rho) / 0.5)
    torch.testing.assert_close(kl_sparsity(z, rho), torch.full((2,), expected))
    out = ModelOutput(None, z, Bernoulli(torch.zeros(2, 1, 1, 1), data_dims=3))
    terms = sparse_loss(out, torch.zeros(2, 1, 1, 1), ObjectiveConfig(sparsity="kl", sparsity_weight=2.0, sparsity_target=rho))
    torch.testing.assert_close(terms.loss, terms.reconstruction + 2.0 * expected)
    assert terms.kl is None and terms.named().keys() == {"loss", "reconstruction", "penalty"}


def test_corruptions():
    x = torch.full((200, 1, 10, 10), 0.5)
    g = torch.Generator().manual_seed(0)
    masked = corrupt(x, "masking", 0.3, g)
    assert set(masked.unique().tolist()) == {0.0, 0.5} and (masked == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    sp = corrupt(x, "salt-pepper", 0.2, g)
    hit = sp != 0.5
    assert hit.float().mean().item() == pytest.approx(0.2, abs=0.01) and set(sp[hit].unique().tolist()) == {0.0, 1.0}
    assert (sp[hit] == 1).float().mean().item() == pytest.approx(0.5, abs=0.03)
    noisy = corrupt(x, "gaussian", 0.3, g)
    assert (noisy - x).std().item() == pytest.approx(0.3, abs=0.01)


def test_contractive_penalty_equals_the_autograd_jacobian():
    from vaekit.objectives import jacobian_frobenius_sq

    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3), torch.nn.Sigmoid())
    x = torch.rand(5, 1, 2, 3, requires_grad=True)
    got = jacobian_frobenius_sq(encoder(x), x)
    for b in range(5):
        jac = torch.autograd.functional.jacobian(lambda v: encoder(v[None])[0], x[b].detach())  # (3, 1, 2, 3)
        assert got[b].item() == pytest.approx(jac.pow(2).sum().item(), rel=1e-5)
    linear = torch.nn.Linear(6, 3, bias=False)  # J = W for every example
    xf = torch.rand(4, 6, requires_grad=True)
    torch.testing.assert_close(jacobian_frobenius_sq(linear(xf), xf), linear.weight.pow(2).sum().expand(4))


def test_contractive_objective_penalises_only_with_gradients():
    from vaekit.models import build_model, resolve_model_config
    from vaekit.objectives import make_objective

    model = build_model(resolve_model_config("contractive-ae").for_data((1, 3, 3)))
    objective = make_objective("contractive", ObjectiveConfig(contractive_weight=0.5))
    x = torch.rand(4, 1, 3, 3)
    terms = objective(model(x), x)
    torch.testing.assert_close(terms.loss, terms.reconstruction + 0.5 * terms.penalty)
    with torch.no_grad():
        assert objective(model(x), x).penalty is None  # validation: reconstruction only


def test_total_correlation_is_zero_for_independent_and_large_for_correlated_latents():
    from vaekit.objectives import decompose_kl

    g = torch.Generator().manual_seed(0)
    n = 2000
    logvar = torch.full((n, 2), math.log(0.01))  # narrow posteriors around their means
    u, e = torch.randn(n, generator=g), torch.randn(n, generator=g)
    results = {}
    for name, mu in (("independent", torch.stack([u, e], 1)), ("correlated", torch.stack([u, 0.8 * u + 0.6 * e], 1))):
        q = DiagonalGaussian(mu, logvar)
        z = q.rsample(g)
        parts = decompose_kl(q, z)
        results[name] = parts.total_correlation.mean().item()
        total = parts.mutual_information + parts.total_correlation + parts.dimension_kl
        torch.testing.assert_close(total, q.log_prob(z) - DiagonalGaussian(torch.zeros_like(mu), torch.zeros_like(mu)).log_prob(z))
    # the aggregate posterior is ~N(0, Sigma) with correlation 0.8: TC = -0.5 log(1 - 0.8^2) = 0.51 nats
    assert abs(results["independent"]) < 0.1
    assert results["correlated"] == pytest.approx(-0.5 * math.log(1 - 0.8**2), abs=0.15)


def _vq(codebook):
    from dataclasses import replace

    from vaekit.models import build_model, resolve_model_config

    config = replace(resolve_model_config("vq-vae"), hidden=(4,), latent_dim=1, code_dim=1, codebook_size=len(codebook), ema_decay=0.5)
    model = build_model(config.for_data((1, 1, 2)))
    model.codebook.copy_(torch.tensor(codebook).view(-1, 1))
    model.ema_sum.copy_(model.codebook)
    return model


def test_vq_quantizes_to_the_nearest_code_and_commits():
    model = _vq([0.0, 10.0])
    q = model.quantize(torch.tensor([[1.0], [6.0], [9.0]]))
    assert q.codes.flatten().tolist() == [0, 1, 1]
    torch.testing.assert_close(q.commitment, torch.tensor([1.0, 16.0, 1.0]))  # ||z_e - e||^2


def test_vq_ema_update_by_hand():
    from vaekit.types import ModelOutput

    model = _vq([0.0, 10.0])  # counts start at 1, sums at the codebook
    z_e = torch.tensor([[1.0], [2.0], [9.0]])
    model.after_step(ModelOutput(None, None, None, quantized=model.quantize(z_e)))
    # counts 0.5 * [1, 1] + 0.5 * [2, 1] = [1.5, 1]; sums 0.5 * [0, 10] + 0.5 * [3, 9] = [1.5, 9.5]
    torch.testing.assert_close(model.ema_count, torch.tensor([1.5, 1.0]))
    torch.testing.assert_close(model.codebook.flatten(), torch.tensor([1.0, 9.5]), rtol=1e-4, atol=1e-4)


def test_vq_objective_and_code_prior():
    from vaekit.evaluation import perplexity
    from vaekit.generation import sample_codes
    from vaekit.objectives import vq_loss

    model = _vq([0.0, 10.0])
    x = torch.rand(3, 1, 1, 2)
    out = model(x)
    terms = vq_loss(out, x, ObjectiveConfig(commitment=0.25))
    torch.testing.assert_close(terms.loss, terms.reconstruction + 0.25 * out.quantized.commitment)
    assert perplexity(torch.tensor([5.0, 5.0, 5.0, 5.0])) == pytest.approx(4.0)
    assert perplexity(torch.tensor([0.0, 7.0, 0.0])) == pytest.approx(1.0)
    log_prior = torch.log(torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]) + 1e-30)  # 2 slots, 3 codes
    codes = sample_codes(log_prior, 1000, torch.Generator().manual_seed(0))
    assert codes.shape == (1000, 2) and (codes[:, 0] == 1).all() and set(codes[:, 1].tolist()) == {0, 2}
    assert (codes[:, 1] == 0).float().mean().item() == pytest.approx(0.5, abs=0.05)


def test_a_code_unused_for_n_steps_restarts_on_the_worst_fitted_encoder_output():
    torch.manual_seed(0)
    config = ModelConfig(kind="vq-vae", hidden=(8,), latent_dim=4, code_dim=2, codebook_size=4, dead_code_steps=3).for_data((1, 2, 2))
    model = build_model(config)
    with torch.no_grad():
        model.codebook.copy_(torch.tensor([[100.0, 100.0], [0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]]))  # code 0 is never chosen
        model.ema_sum.copy_(model.codebook * model.ema_count.unsqueeze(-1))
    z_e = torch.tensor([[0.1, 0.0, 0.9, 1.2], [-0.8, 0.4, 3.0, -2.0]])  # (B, M*d); (3, -2) fits its code worst
    for step in range(3):
        stats = model.after_step(ModelOutput(None, None, None, quantized=model.quantize(z_e)))
        assert stats["codes_used"].shape == (2,)
        assert bool((model.codebook[0] > 99).all()) == (step < 2)  # restarted at the third unused step
    torch.testing.assert_close(model.codebook[0], torch.tensor([3.0, -2.0]))
    assert model.unused[0] == 0 and model.ema_count[0] == 1
