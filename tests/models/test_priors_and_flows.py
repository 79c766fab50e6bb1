"""Known answers for the VampPrior's mixture, the flows' log-determinants and the Monte-Carlo KL."""

import math
from dataclasses import replace

import pytest
import torch

from vaekit.distributions import DiagonalGaussian, FlowPosterior, GaussianMixture
from vaekit.errors import ConfigError
from vaekit.models import ModelConfig, build_model, resolve_model_config
from vaekit.models.flows import Flow, IAFStep, made_masks
from vaekit.objectives import ObjectiveConfig, elbo_loss, kl_monte_carlo, posterior_kl
from vaekit.types import ModelOutput


def test_mixture_log_prob_is_the_hand_computed_mixture():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g)
    weights = torch.tensor([0.2, 0.5, 0.3])
    z = torch.randn(4, 5, 2, generator=g)  # (K, B, D)
    by_hand = torch.zeros(4, 5)
    for m in range(3):
        normal = torch.distributions.Normal(mu[m], torch.exp(0.5 * logvar[m]))
        by_hand += weights[m] * normal.log_prob(z).sum(-1).exp()
    mixture = GaussianMixture(mu, logvar, batch=5, log_weights=weights.log())
    torch.testing.assert_close(mixture.log_prob(z), by_hand.log())
    # equal weights by default; one component is that Gaussian
    torch.testing.assert_close(GaussianMixture(mu, logvar, 5).log_prob(z), _equal(mu, logvar, z))
    one = GaussianMixture(mu[:1], logvar[:1], 5)
    torch.testing.assert_close(one.log_prob(z), DiagonalGaussian(mu[:1].expand(5, 2), logvar[:1].expand(5, 2)).log_prob(z))


def _equal(mu, logvar, z):
    parts = torch.stack([DiagonalGaussian(mu[m].expand(5, 2), logvar[m].expand(5, 2)).log_prob(z) for m in range(3)])
    return torch.logsumexp(parts, 0) - math.log(3)


def test_mixture_samples_follow_its_weights_and_components():
    mu = torch.tensor([[-5.0], [5.0]])
    mixture = GaussianMixture(mu, torch.full((2, 1), math.log(0.25)), batch=4000, log_weights=torch.tensor([0.25, 0.75]).log())
    z = mixture.rsample(torch.Generator().manual_seed(0))  # (4000, 1)
    right = z[:, 0] > 0
    assert abs(right.float().mean().item() - 0.75) < 0.03
    assert abs(z[right].std().item() - 0.5) < 0.03 and abs(z[right].mean().item() - 5) < 0.03
    assert mixture.rsample(torch.Generator().manual_seed(0), n=3).shape == (3, 4000, 1)
    cold = mixture.rsample(torch.Generator().manual_seed(0), temperature=0.0)
    assert set(cold[:, 0].tolist()) == {-5.0, 5.0}  # temperature 0: the component means


def test_the_vamp_prior_is_the_mixture_of_the_pseudo_inputs_posteriors():
    torch.manual_seed(0)
    model = build_model(replace(resolve_model_config("vamp"), hidden=(8,), latent_dim=3, pseudo_inputs=7).for_data((1, 4, 4)))
    prior = model.prior(5)
    assert isinstance(prior, GaussianMixture) and prior.mu.shape == (7, 3)
    u = model.pseudo_inputs()
    assert u.shape == (7, 1, 4, 4) and 0 <= u.min() and u.max() <= 1  # images: pseudo-inputs stay pixels
    z = torch.randn(2, 3)
    parts = torch.stack([model.encode(u[m : m + 1]).log_prob(z) for m in range(7)])  # (M, 2)
    torch.testing.assert_close(prior.log_prob(z), torch.logsumexp(parts, 0) - math.log(7))
    # the ELBO's KL is log q - log p at the sample, and its gradient reaches the pseudo-inputs
    x = torch.rand(5, 1, 4, 4)
    out = model(x, torch.Generator().manual_seed(0))
    kl, per_dim = posterior_kl(out)
    torch.testing.assert_close(kl, out.posterior.log_prob(out.z) - prior.log_prob(out.z))
    assert per_dim is None
    elbo_loss(out, x, ObjectiveConfig()).loss.mean().backward()
    assert model.pseudo.grad.abs().sum() > 0


def _jacobian_log_det(step, z):
    jac = torch.autograd.functional.jacobian(lambda v: step(v.unsqueeze(0))[0][0], z)  # (D, D)
    return torch.linalg.slogdet(jac)[1]


@pytest.mark.parametrize("kind", ["planar", "radial", "iaf"])
def test_each_flow_log_det_is_the_log_det_of_its_jacobian(kind):
    torch.manual_seed(1)
    flow = Flow(kind, 3, 4).double()  # float64: the Jacobian's determinant is then exact to 1e-10
    with torch.no_grad():  # move away from the near-identity start, so the test has teeth
        for p in flow.parameters():
            p.add_(0.2 * torch.randn_like(p))
    for z in torch.randn(5, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64):
        log_det = flow(z.unsqueeze(0))[1][0]
        torch.testing.assert_close(log_det, _jacobian_log_det(flow, z), atol=1e-4, rtol=1e-4)
    out, log_det = flow(torch.randn(6, 2, 4, dtype=torch.float64))  # any leading shape
    assert out.shape == (6, 2, 4) and log_det.shape == (6, 2)


def test_iaf_is_autoregressive():
    first, middle, last = made_masks(4, 9)
    assert torch.equal(torch.tril(last @ middle @ first, diagonal=-1) > 0, (last @ middle @ first) > 0)  # strictly lower
    step = IAFStep(4, 9, reverse=False)
    jac = torch.autograd.functional.jacobian(lambda v: step(v.unsqueeze(0))[0][0], torch.randn(4))
    assert torch.equal(torch.triu(jac, diagonal=1), torch.zeros(4, 4))  # output d depends on inputs <= d only


def test_monte_carlo_kl_matches_the_closed_form():
    g = torch.Generator().manual_seed(0)
    q = DiagonalGaussian(torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g) * 0.3)
    p = DiagonalGaussian(torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g) * 0.3)
    torch.testing.assert_close(kl_monte_carlo(q, p, 200_000, g), q.kl(p), atol=0.02, rtol=0)
    # a flow that is the identity leaves the posterior's KL unchanged
    identity = FlowPosterior(q, lambda z: (z, torch.zeros(z.shape[:-1])))
    torch.testing.assert_close(kl_monte_carlo(identity, p, 200_000, g), q.kl(p), atol=0.02, rtol=0)
    # posterior_kl: the closed form for Gaussians, the estimate at the output's samples otherwise
    z, log_q = identity.rsample_with_log_prob(g, n=3)
    out = ModelOutput(identity, z, None, prior=p, log_q=log_q)
    torch.testing.assert_close(posterior_kl(out)[0], (log_q - p.log_prob(z)).mean(0))


def test_flows_and_vamp_refuse_what_they_cannot_do():
    with pytest.raises(ConfigError, match="drop --flow"):
        ModelConfig(kind="vamp", flow="planar")
    with pytest.raises(ConfigError, match="--flow-steps"):
        ModelConfig(flow="iaf", flow_steps=0)
    with pytest.raises(TypeError, match="stochastic posterior and a prior"):
        posterior_kl(ModelOutput(DiagonalGaussian(torch.zeros(1, 1), torch.zeros(1, 1)), torch.zeros(1, 1), None))
