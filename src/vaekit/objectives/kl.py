"""KL divergences between the posterior q(z|x) and the prior p(z), per example, in nats."""

from __future__ import annotations

import torch

from vaekit.distributions import DiagonalGaussian, Posterior, Prior
from vaekit.types import ModelOutput


def kl_divergence(posterior: DiagonalGaussian, prior: DiagonalGaussian | None = None) -> torch.Tensor:
    """Closed-form KL(q || p) for diagonal Gaussians (p = N(0, I) when None), shape (B,).

    The seed's appendix: KL = 0.5 * sum_i (sigma_i^2 + mu_i^2 - 1 - log sigma_i^2).
    """
    return posterior.kl(prior)


def kl_monte_carlo(posterior: Posterior, prior: Prior, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte-Carlo KL(q || p) = E_q[log q(z) - log p(z)] with ``n`` samples, shape (B,).

    For posteriors or priors without a closed form; also checks the closed form in tests.
    """
    z, log_q = posterior.rsample_with_log_prob(generator, n=n)  # (n, B, D), (n, B)
    return (log_q - prior.log_prob(z)).mean(0)  # (B,)


def has_closed_form(posterior: object, prior: object) -> bool:
    """Whether KL(q || p) has the closed form: both diagonal Gaussians (no flow, no mixture)."""
    return isinstance(posterior, DiagonalGaussian) and isinstance(prior, DiagonalGaussian)


def require_density(output: ModelOutput, what: str) -> None:
    """Raise unless the output has a prior and a posterior density at z (closed-form or its own)."""
    if output.prior is None or not (isinstance(output.posterior, DiagonalGaussian) or output.log_q is not None):
        raise TypeError(f"{what} needs a stochastic posterior and a prior; use the 'reconstruction' objective for autoencoders")


def log_prior_at_z(output: ModelOutput, z: torch.Tensor) -> torch.Tensor:
    """log p(z) at the forward pass's samples: the model's own value when it computed one (a
    hierarchy's top-down pass), else the prior object's."""
    return output.log_p.reshape(z.shape[:-1]) if output.log_p is not None else output.prior.log_prob(z)


def posterior_kl(output: ModelOutput) -> tuple[torch.Tensor, torch.Tensor | None]:
    """KL(q(z|x) || p(z)) of a forward pass: ``(kl (B,), kl_per_dim (B, D) or None)``.

    The closed form (per dimension) when posterior and prior are diagonal Gaussians; otherwise
    the Monte-Carlo estimate log q(z|x) - log p(z) at the forward pass's own sample(s) z, averaged
    over K when there are several. It has no per-dimension split (a flow mixes dimensions, a
    mixture prior does not factorise), so free bits need the closed form. A hierarchical VAE's
    output carries each layer's closed-form KL: their sum, split by layer (free bits per layer).

    Raises:
        TypeError: for outputs without a stochastic posterior and a prior (autoencoders).
    """
    posterior, prior = output.posterior, output.prior
    if output.kl_layers is not None:  # a hierarchy: each layer's KL in closed form, free bits per layer
        per_layer = output.kl_layers.mean(0) if output.kl_layers.dim() == 3 else output.kl_layers  # (B, L)
        return per_layer.sum(-1), per_layer
    require_density(output, "this objective")
    if has_closed_form(posterior, prior):
        per_dim = posterior.kl_per_dim(prior)  # (B, D)
        return per_dim.sum(-1), per_dim
    log_q = output.log_q if output.log_q is not None else posterior.log_prob(output.z)  # (B,) or (K, B)
    kl = log_q - log_prior_at_z(output, output.z)  # (B,) or (K, B)
    return (kl.mean(0) if kl.dim() == 2 else kl), None
