"""MIWAE, CIWAE and PIWAE (Rainforth et al. 2018) against the bounds they are built from."""

from dataclasses import replace

import pytest
import torch

from vaekit.errors import ConfigError
from vaekit.models import build_model, resolve_model_config
from vaekit.objectives import ObjectiveConfig, ciwae_loss, iwae_bound, iwae_loss, miwae_bound, miwae_loss, piwae_loss

X = torch.rand(5, 1, 3, 3, generator=torch.Generator().manual_seed(0)).round()


def _model(samples: int, flow: str = "none"):
    torch.manual_seed(0)
    config = replace(resolve_model_config("vae"), hidden=(8,), latent_dim=2, samples=samples, flow=flow, flow_steps=2)
    return build_model(config.for_data((1, 3, 3)))


def _forward(model):
    return model(X, torch.Generator().manual_seed(1))  # the same K samples every call


def test_miwae_with_one_group_is_iwae_and_with_groups_of_one_the_mean_elbo():
    log_w = torch.randn(12, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(miwae_bound(log_w, 1), iwae_bound(log_w))
    torch.testing.assert_close(miwae_bound(log_w, 12), log_w.mean(0))
    torch.testing.assert_close(miwae_bound(log_w, 3), torch.stack([iwae_bound(log_w[i : i + 4]) for i in (0, 4, 8)]).mean(0))
    out = _forward(_model(6))
    torch.testing.assert_close(miwae_loss(out, X, ObjectiveConfig(groups=1)).loss, iwae_loss(out, X, ObjectiveConfig()).loss)
    with pytest.raises(ConfigError, match="--groups 4 must divide the 6 samples"):
        miwae_loss(out, X, ObjectiveConfig(groups=4))


def test_ciwae_interpolates_between_the_elbo_and_iwae():
    out = _forward(_model(6))
    iwae = iwae_loss(out, X, ObjectiveConfig()).loss
    elbo = miwae_loss(out, X, ObjectiveConfig(groups=6)).loss  # the mean of the 6 single-sample bounds
    torch.testing.assert_close(ciwae_loss(out, X, ObjectiveConfig(ciwae_beta=0.0)).loss, iwae)
    torch.testing.assert_close(ciwae_loss(out, X, ObjectiveConfig(ciwae_beta=1.0)).loss, elbo)
    torch.testing.assert_close(ciwae_loss(out, X, ObjectiveConfig(ciwae_beta=0.25)).loss, 0.25 * elbo + 0.75 * iwae)


def _grads(model, loss_fn):
    model.zero_grad()
    loss_fn(_forward(model)).mean().backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("flow", ["none", "iaf"])
def test_piwae_gives_the_decoder_the_iwae_gradient_and_the_encoder_the_miwae_gradient(flow):
    model, config = _model(8, flow), ObjectiveConfig(groups=4)
    piwae = _grads(model, lambda out: piwae_loss(out, X, config).loss)
    iwae = _grads(model, lambda out: iwae_loss(out, X, config).loss)
    miwae = _grads(model, lambda out: miwae_loss(out, X, config).loss)
    for name, grad in piwae.items():
        expected = iwae[name] if name.startswith(("decoder", "head")) else miwae[name]  # the flow is part of q, like the encoder
        torch.testing.assert_close(grad, expected, atol=1e-6, rtol=1e-5, msg=name)
    assert any(not torch.allclose(iwae[n], miwae[n]) for n in piwae)  # the two gradients do differ
    out = _forward(model)
    torch.testing.assert_close(piwae_loss(out, X, config).loss, iwae_loss(out, X, config).loss)  # its value is the IWAE bound


def test_piwae_stays_finite_when_a_group_is_far_below_the_others():
    model, config = _model(4), ObjectiveConfig(groups=2)
    with torch.no_grad():  # a confident decoder: log-weights hundreds of nats apart between samples
        for p in model.decoder.parameters():
            p.mul_(60.0)
    out = _forward(model)
    loss = piwae_loss(out, X, config).loss
    loss.mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
