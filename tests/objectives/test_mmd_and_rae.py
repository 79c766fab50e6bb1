"""The MMD of WAE and InfoVAE against its closed form, and the RAE's penalties."""

import math
from dataclasses import replace

import pytest
import torch

from vaekit.errors import ConfigError
from vaekit.models import build_model, resolve_model_config
from vaekit.objectives import ObjectiveConfig, make_objective
from vaekit.objectives.mmd import info_vae_loss, kernel, mmd, wae_loss
from vaekit.objectives.regularizers import decoder_jacobian_sq, rae_loss


def test_mmd_is_zero_for_identical_samples_and_positive_for_different_ones():
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    for kind in ("imq", "rbf"):
        assert mmd(z, z.clone(), kind).abs() < 1e-6
        assert mmd(z, z + 2.0, kind) > 0.1


def _expected_rbf(a, s, b, t, d):
    """E k(x, y) for x ~ N(a, s I), y ~ N(b, t I), k = exp(-|x - y|^2 / (2 d)) in d dimensions."""
    v = d + s + t
    return (d / v) ** (d / 2) * math.exp(-((a - b) ** 2) * d / (2 * v))  # means a, b in every coordinate


def test_mmd_matches_its_closed_form_for_two_gaussians():
    d, n = 2, 3000
    g = torch.Generator().manual_seed(0)
    p = 0.5 + math.sqrt(0.3) * torch.randn(n, d, generator=g)  # N(0.5, 0.3 I)
    q = torch.randn(n, d, generator=g)  # N(0, I)
    exact = _expected_rbf(0.5, 0.3, 0.5, 0.3, d) + _expected_rbf(0, 1, 0, 1, d) - 2 * _expected_rbf(0.5, 0.3, 0, 1, d)
    estimates = torch.stack([mmd(p[i::3], q[i::3], "rbf") for i in range(3)])
    assert abs(estimates.mean().item() - exact) < 0.01 and exact > 0.05
    assert kernel(p[:4], q[:5], "imq").shape == (4, 5)


def _output(name, **objective):
    torch.manual_seed(0)
    model = build_model(replace(resolve_model_config(name), hidden=(8,), latent_dim=3).for_data((1, 3, 3)))
    x = torch.rand(6, 1, 3, 3, generator=torch.Generator().manual_seed(1)).round()
    return model, model(x, torch.Generator().manual_seed(2)), x


def test_wae_and_info_vae_add_the_weighted_mmd_of_codes_and_prior_samples():
    model, out, x = _output("wae")
    assert out.prior_sample.shape == (6, 3) and model.has_prior and model.deterministic
    terms = wae_loss(out, x, ObjectiveConfig(mmd_weight=7.0))
    torch.testing.assert_close(terms.penalty, mmd(out.z, out.prior_sample).expand(6))
    torch.testing.assert_close(terms.loss, terms.reconstruction + 7.0 * terms.penalty)
    _, out, x = _output("info-vae")
    terms = info_vae_loss(out, x, ObjectiveConfig(info_alpha=0.5, mmd_weight=3.0))
    torch.testing.assert_close(terms.loss, terms.reconstruction + 0.5 * terms.kl + 2.5 * terms.penalty)
    with pytest.raises(ConfigError, match="--info-alpha"):
        ObjectiveConfig(info_alpha=2.0)
    with pytest.raises(ConfigError, match="at least 1"):
        ObjectiveConfig(info_alpha=0.0, mmd_weight=0.5)


def test_decoder_jacobian_penalty_is_the_squared_frobenius_norm():
    torch.manual_seed(0)
    decoder = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4))
    z = torch.randn(2, 3, requires_grad=True)
    expected = torch.stack([torch.autograd.functional.jacobian(decoder, z[b]).pow(2).sum() for b in range(2)])
    torch.testing.assert_close(decoder_jacobian_sq(decoder(z), z), expected)


def test_rae_penalises_the_code_norm_the_decoder_gradient_and_weight_decays_the_decoder():
    model, out, x = _output("rae")
    plain = rae_loss(out, x, ObjectiveConfig(code_weight=2.0))
    torch.testing.assert_close(plain.loss, plain.reconstruction + 2.0 * 0.5 * out.z.pow(2).sum(-1))
    smooth = rae_loss(out, x, ObjectiveConfig(code_weight=2.0, gradient_penalty=0.1))
    torch.testing.assert_close(smooth.loss - plain.loss, 0.1 * decoder_jacobian_sq(out.likelihood.mean, out.z))
    smooth.loss.mean().backward()  # the penalty is differentiable
    groups = model.optimizer_groups()
    decoder = {id(p) for p in [*model.decoder.parameters(), *model.head.parameters()]}
    assert groups[1]["weight_decay"] == 1e-4 and {id(p) for p in groups[1]["params"]} == decoder
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert make_objective("rae", ObjectiveConfig()).fn is rae_loss
