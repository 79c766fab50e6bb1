"""The ELBO (Kingma & Welling 2014, eq. 3) and the plain reconstruction objective, per example."""

from __future__ import annotations

import torch

from vaekit.distributions import DiagonalGaussian, Likelihood
from vaekit.types import LossTerms, ModelOutput


def reconstruction_nll(likelihood: Likelihood, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) summed over the data dimensions, in nats, shape (B,)."""
    return -likelihood.log_prob(x)


def elbo_loss(output: ModelOutput, x: torch.Tensor, beta: float = 1.0) -> LossTerms:
    """Negative ELBO with a β-weighted KL: -E_q[log p(x|z)] + β KL(q(z|x) || N(0, I)).

    One reparameterized sample estimates the reconstruction term; the KL is analytic. β multiplies
    the KL and nothing else, so β = 1 is the true (negative) ELBO in nats.

    Args:
        output: the model's forward pass on x; ``output.posterior`` must be a DiagonalGaussian.
        x: data (B, C, H, W).
        beta: weight of the KL term (Higgins et al. 2017).

    Returns:
        LossTerms with loss, reconstruction and kl, each (B,).
    """
    if not isinstance(output.posterior, DiagonalGaussian):
        raise TypeError("the ELBO needs a Gaussian posterior; use the 'reconstruction' objective for autoencoders")
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    kl = output.posterior.kl()  # (B,)
    return LossTerms(loss=rec + beta * kl, reconstruction=rec, kl=kl)


def reconstruction_loss(output: ModelOutput, x: torch.Tensor, beta: float = 1.0) -> LossTerms:
    """-log p(x|z) alone: MSE (as a fixed-variance Gaussian) or BCE for autoencoders. ``beta`` is unused."""
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    return LossTerms(loss=rec, reconstruction=rec)
