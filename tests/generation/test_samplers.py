"""Samplers fitted to a model's codes: known answers for the GMM and the MAF, and their files."""

import math

import pytest
import torch

from vaekit import run
from vaekit.commands import train
from vaekit.distributions import FullGaussianMixture
from vaekit.errors import ConfigError, RunDirError
from vaekit.generation import fit_sampler, sample
from vaekit.generation.samplers import fit_code_transformer, fit_flow, fit_gmm
from vaekit.models.flows import MAF

from conftest import tiny_run_config

MIX = torch.tensor([[1.0, 0.0], [0.8, 0.6]])  # the second blob is eps @ MIX: covariance MIX^T MIX


def _two_blobs(n=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    pick = torch.rand(n, generator=g) < 0.3
    a = torch.tensor([-4.0, 1.0]) + 0.5 * torch.randn(n, 2, generator=g)
    b = torch.tensor([3.0, -2.0]) + torch.randn(n, 2, generator=g) @ MIX
    return torch.where(pick.unsqueeze(1), a, b)


def test_a_gmm_fitted_to_a_known_mixture_recovers_it():
    tensors = fit_gmm(_two_blobs(), components=2, seed=0)
    order = tensors["means"][:, 0].argsort()
    means, weights = tensors["means"][order], tensors["log_weights"][order].exp()
    torch.testing.assert_close(means, torch.tensor([[-4.0, 1.0], [3.0, -2.0]]), atol=0.1, rtol=0)
    torch.testing.assert_close(weights, torch.tensor([0.3, 0.7]), atol=0.03, rtol=0)
    cov = tensors["scale_tril"][order[1]] @ tensors["scale_tril"][order[1]].T
    torch.testing.assert_close(cov, MIX.T @ MIX, atol=0.1, rtol=0)


def test_the_full_mixture_density_is_torch_distributions_and_samples_follow_it():
    g = torch.Generator().manual_seed(0)
    mu, raw = torch.randn(3, 2, generator=g), torch.randn(3, 2, 2, generator=g)
    tril = torch.tril(raw) + 2 * torch.eye(2)
    weights = torch.tensor([0.2, 0.3, 0.5])
    mixture = FullGaussianMixture(mu, tril, weights.log(), batch=20000)
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(weights), torch.distributions.MultivariateNormal(mu, scale_tril=tril)
    )
    z = torch.randn(7, 2, generator=g)
    torch.testing.assert_close(mixture.log_prob(z), reference.log_prob(z))
    drawn = mixture.rsample(torch.Generator().manual_seed(1))  # (20000, 2)
    torch.testing.assert_close(drawn.mean(0), reference.mean, atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(drawn.T), torch.cov(reference.sample((200000,)).T), atol=0.1, rtol=0)


def test_the_maf_density_integrates_to_one_and_is_its_change_of_variables():
    flow = fit_flow(_two_blobs(2000), _two_blobs(500, seed=1), epochs=3, seed=0, layers=3, hidden=32).double()
    side = torch.linspace(-12, 12, 241, dtype=torch.float64)
    grid = torch.cartesian_prod(side, side)  # (241^2, 2)
    with torch.no_grad():
        mass = flow.log_prob(grid).exp().sum() * (side[1] - side[0]) ** 2
    assert abs(mass.item() - 1.0) < 0.02
    z = torch.tensor([0.3, -1.2], dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda v: flow.to_noise(v.unsqueeze(0))[0][0], z)  # du/dz, (2, 2)
    u = flow.to_noise(z.unsqueeze(0))[0][0]
    expected = -0.5 * (2 * math.log(2 * math.pi) + (u**2).sum()) + torch.linalg.slogdet(jacobian)[1]
    torch.testing.assert_close(flow.log_prob(z.unsqueeze(0))[0], expected)
    back = flow.sample(torch.Generator().manual_seed(0), 5)  # sampling inverts the density's map
    noise = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(flow.to_noise(back)[0], noise)


@pytest.mark.parametrize("kind", ["gmm", "flow"])
def test_a_fitted_sampler_round_trips_through_the_run_directory(tmp_path, kind):
    out = tmp_path / "ae"
    train(tiny_run_config("ae", epochs=1), out, images=False)
    model = run.load(out)
    fitted = fit_sampler(model, run.load_split(out, "train"), run.load_split(out, "valid"), kind, components=3, epochs=2)
    assert math.isfinite(fitted.train_log_likelihood) and math.isfinite(fitted.valid_log_likelihood)
    path = run.save_sampler(out, kind, fitted.tensors, {"options": fitted.options})
    loaded = run.load_sampler(out, kind, model.latent_dim)
    z = torch.randn(6, model.latent_dim)
    torch.testing.assert_close(loaded.log_prob(z), fitted.prior.log_prob(z))
    images = sample(model, 5, torch.Generator().manual_seed(0), sampler=loaded)
    assert images.shape == (5, *model.data_shape) and torch.isfinite(images).all()
    with pytest.raises(RunDirError, match="does not fit latents of size 3|does not fit this run's model"):
        run.load_sampler(out, kind, 3)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RunDirError, match=f"damaged .*vaekit fit-sampler .* --sampler {kind}"):
        run.load_sampler(out, kind, model.latent_dim)
    other = "gmm" if kind == "flow" else "flow"
    with pytest.raises(RunDirError, match=f"has no {other} sampler; fit one first: vaekit fit-sampler"):
        run.load_sampler(out, other, model.latent_dim)


def test_fitting_refuses_what_it_cannot_fit(tmp_path):
    out = tmp_path / "vq"
    train(tiny_run_config("vq-vae", epochs=1), out, images=False)
    with pytest.raises(ConfigError, match="codes are discrete: fit --sampler autoregressive"):
        fit_sampler(run.load(out), run.load_split(out, "train"), run.load_split(out, "valid"), "gmm")
    with pytest.raises(ConfigError, match="unknown sampler 'kde'"):
        fit_sampler(run.load(out), run.load_split(out, "train"), run.load_split(out, "valid"), "kde")
    assert MAF(2).as_prior().rsample(torch.Generator().manual_seed(0), n=3).shape == (3, 1, 2)  # n draws of a batch of 1


def test_the_autoregressive_code_prior_beats_the_per_slot_prior_on_dependent_codes():
    g = torch.Generator().manual_seed(0)
    first = torch.randint(0, 8, (3000, 1), generator=g)
    codes = torch.cat([first, (first + 1) % 8, torch.randint(0, 8, (3000, 1), generator=g)], dim=1)  # slot 1 follows slot 0
    prior = fit_code_transformer(codes[:2500], codes[2500:], codebook_size=8, epochs=5, seed=0)
    with torch.no_grad():
        ours = prior.log_prob(codes[2500:]).mean()
    counts = torch.stack([torch.bincount(codes[:2500, m], minlength=8) for m in range(3)]).float() + 1  # (M, K)
    per_slot = (counts / counts.sum(-1, keepdim=True)).log()
    theirs = per_slot.gather(1, codes[2500:].T).sum(0).mean()
    assert ours > theirs + 1.5  # about log 8 = 2.08 nats to gain on slot 1
    drawn = prior.sample(200, torch.Generator().manual_seed(0))
    assert (drawn[:, 1] == (drawn[:, 0] + 1) % 8).float().mean() > 0.9
    assert (prior.sample(50, torch.Generator().manual_seed(0), top_k=1) == prior.sample(50, None, temperature=0)).all()


def test_a_vq_vaes_autoregressive_prior_round_trips_and_samples(tmp_path):
    out = tmp_path / "vq"
    train(tiny_run_config("vq-vae", epochs=1), out, images=False)
    model = run.load(out)
    fitted = fit_sampler(model, run.load_split(out, "train"), run.load_split(out, "valid"), "autoregressive", epochs=1)
    run.save_sampler(out, "autoregressive", fitted.tensors, {"options": fitted.options})
    loaded = run.load_sampler(out, "autoregressive", model.latent_dim)
    codes = torch.randint(0, model.codebook_size, (4, model.slots))
    torch.testing.assert_close(loaded.log_prob(codes), fitted.prior.log_prob(codes))
    images = sample(model, 6, torch.Generator().manual_seed(0), code_prior=loaded, top_k=3)
    assert images.shape == (6, *model.data_shape)
