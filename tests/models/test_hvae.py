"""The hierarchical VAE against a hand-written two-layer computation, and its per-layer tools."""

from dataclasses import replace

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from vaekit.errors import ConfigError
from vaekit.models import PRESETS, build_model, resolve_model_config
from vaekit.objectives import ObjectiveConfig, elbo_loss, iwae_loss


def _two_layer(**options):
    torch.manual_seed(0)
    config = replace(resolve_model_config("hvae"), hidden=(12,), ladder_hidden=(10,), layer_dims=(3, 2), **options)
    return build_model(config.for_data((1, 4, 4)))


def _by_hand(model, x, seed):
    """ELBO and log-weight of one sample, written out layer by layer with torch.distributions."""
    g = torch.Generator().manual_seed(seed)
    h1 = model.bottom_up[0](x)
    h2 = model.bottom_up[1](h1)
    mu2, logvar2 = model.top(h2).chunk(2, -1)
    q2 = Normal(mu2, torch.exp(0.5 * logvar2))
    z2 = mu2 + torch.exp(0.5 * logvar2) * torch.randn(mu2.shape, generator=g)  # the top layer is drawn first
    t = model.cells[0](z2)
    mu_p, logvar_p = model.prior_heads[0](t).chunk(2, -1)
    d_mu, d_logvar = model.posterior_heads[0](torch.cat([t, h1], -1)).chunk(2, -1)
    p1, q1 = Normal(mu_p, torch.exp(0.5 * logvar_p)), Normal(mu_p + d_mu, torch.exp(0.5 * (logvar_p + d_logvar)))
    z1 = q1.loc + q1.scale * torch.randn(mu_p.shape, generator=g)
    log_px = Bernoulli(logits=model.decoder(torch.cat([z1, t], -1))).log_prob(x.flatten(1)).sum(-1)
    kl = kl_divergence(q2, Normal(0.0, 1.0)).sum(-1) + kl_divergence(q1, p1).sum(-1)
    log_w = log_px + Normal(0.0, 1.0).log_prob(z2).sum(-1) + p1.log_prob(z1).sum(-1) - q2.log_prob(z2).sum(-1) - q1.log_prob(z1).sum(-1)
    return log_px - kl, log_w, torch.cat([z1, z2], -1)


def test_the_two_layer_elbo_and_log_weight_are_the_hand_written_ones():
    model = _two_layer()
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(1)).round()
    out = model(x, torch.Generator().manual_seed(2))
    elbo, log_w, z = _by_hand(model, x, seed=2)
    torch.testing.assert_close(out.z, z)
    torch.testing.assert_close(-elbo_loss(out, x, ObjectiveConfig()).loss, elbo)
    torch.testing.assert_close(-iwae_loss(out, x, ObjectiveConfig()).loss, log_w)  # K = 1: the log-weight itself
    log_px = -elbo_loss(out, x, ObjectiveConfig()).reconstruction  # log p(x|z) of the sample
    torch.testing.assert_close(out.prior.log_prob(out.z) - out.log_q, log_w - log_px)  # the prior object: log p(z) by itself
    torch.testing.assert_close(out.log_p, out.prior.log_prob(out.z))  # the forward pass's own log p(z) is the same
    assert out.kl_layers.shape == (5, 2) and (out.kl_layers >= 0).all()


def test_free_bits_and_warm_up_act_per_layer():
    model = _two_layer()
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(1)).round()
    out = model(x, torch.Generator().manual_seed(2))
    floor = 100.0  # above either layer's KL: each layer pays the floor
    terms = elbo_loss(out, x, ObjectiveConfig(free_bits=floor))
    torch.testing.assert_close(terms.loss, terms.reconstruction + 2 * floor)


def test_samples_go_top_down_with_a_temperature_per_layer():
    model = _two_layer()
    prior = model.prior(4)
    cold = prior.rsample(torch.Generator().manual_seed(0), temperature=(1.0, 0.0))  # (4, 5): top layer at its mean 0
    assert cold.shape == (4, 5) and torch.equal(cold[:, 3:], torch.zeros(4, 2))
    z = prior.rsample(torch.Generator().manual_seed(0), n=3)
    assert z.shape == (3, 4, 5) and torch.isfinite(prior.log_prob(z)).all()
    with pytest.raises(ConfigError, match="one per layer"):
        prior.rsample(None, temperature=(1.0, 1.0, 1.0))


def test_the_burda_preset_is_the_iwae_papers_two_layer_network():
    config = PRESETS["burda-2layer"].model
    model = build_model(config)
    assert model.layer_dims == (100, 50) and model.latent_dim == 150 and model.samples == 5
    linear = [m.out_features for m in model.bottom_up.modules() if isinstance(m, torch.nn.Linear)]
    assert linear == [200, 200, 100, 100]  # 784-200-200 then 100-100 up to the 50-unit layer
    assert config.activation == "tanh"


def test_a_vamp_prior_on_the_top_layer_is_the_mixture_of_the_pseudo_inputs_top_posteriors():
    model = _two_layer(top_prior="vamp", pseudo_inputs=4)
    u = torch.nn.functional.hardtanh(model.pseudo, 0, 1)  # images: the pseudo-inputs stay pixels
    z = torch.randn(3, 5)
    top = [Normal(*_loc_scale(model.top(model.bottom_up[1](model.bottom_up[0](u[m : m + 1]))))) for m in range(4)]
    log_top = torch.logsumexp(torch.stack([t.log_prob(z[:, 3:]).sum(-1) for t in top]), 0) - torch.log(torch.tensor(4.0))
    mu_p, logvar_p = model.prior_heads[0](model.cells[0](z[:, 3:])).chunk(2, -1)
    expected = log_top + Normal(mu_p, torch.exp(0.5 * logvar_p)).log_prob(z[:, :3]).sum(-1)
    torch.testing.assert_close(model.prior(3).log_prob(z), expected)
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(1)).round()
    out = model(x, torch.Generator().manual_seed(2))
    elbo_loss(out, x, ObjectiveConfig()).loss.mean().backward()
    assert model.pseudo.grad.abs().sum() > 0
    assert model.prior(6).rsample(torch.Generator().manual_seed(0)).shape == (6, 5)


def _loc_scale(params):
    mu, logvar = params.chunk(2, -1)
    return mu, torch.exp(0.5 * logvar)
