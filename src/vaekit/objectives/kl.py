"""KL divergences between the posterior q(z|x) and the prior p(z), per example, in nats."""

from __future__ import annotations

import torch

from vaekit.distributions import DiagonalGaussian


def kl_divergence(posterior: DiagonalGaussian, prior: DiagonalGaussian | None = None) -> torch.Tensor:
    """Closed-form KL(q || p) for diagonal Gaussians (p = N(0, I) when None), shape (B,).

    The seed's appendix: KL = 0.5 * sum_i (sigma_i^2 + mu_i^2 - 1 - log sigma_i^2).
    """
    return posterior.kl(prior)


def kl_monte_carlo(
    posterior: DiagonalGaussian,
    prior: DiagonalGaussian,
    n: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Monte-Carlo KL(q || p) = E_q[log q(z) - log p(z)] with ``n`` samples, shape (B,).

    For posteriors or priors without a closed form; also checks the closed form in tests.
    """
    z = posterior.rsample(generator, n=n)  # (n, B, D)
    return (posterior.log_prob(z) - prior.log_prob(z)).mean(0)  # (B,)
