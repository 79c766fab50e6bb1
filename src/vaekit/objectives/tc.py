"""Total-correlation penalties.

β-TCVAE (Chen et al. 2018): the KL split into mutual information, total correlation and
dimension-wise KL, estimated from the minibatch (minibatch-weighted sampling).

The aggregate posterior q(z) = (1/N) sum_n q(z|x_n) is estimated by (1/B) sum_j q(z|x_j) over the
batch. Chen et al.'s MWS (their eq. S6 and reference code) normalise by 1/(B N) instead. That
constant changes no gradient and not the total, but it shifts the reported terms by +log N
(mutual information), +(D - 1) log N (total correlation) and -D log N (dimension-wise KL). With
1/B the total correlation is about 0 for independent latents, so the reported value means
something.

FactorVAE (Kim & Mnih 2018) estimates the same total correlation with a discriminator instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vaekit.distributions import DiagonalGaussian
from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.critics import TCDiscriminator
from vaekit.objectives.elbo import _posterior, reconstruction_nll
from vaekit.types import LossTerms, ModelOutput, Step

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class KLDecomposition:
    """Per-example terms, (B,), whose sum is a Monte-Carlo KL(q(z|x) || p(z)).

    Attributes:
        mutual_information: log q(z|x) - log q(z), the index-code mutual information term.
        total_correlation: log q(z) - sum_d log q(z_d).
        dimension_kl: sum_d log q(z_d) - log p(z).
    """

    mutual_information: torch.Tensor
    total_correlation: torch.Tensor
    dimension_kl: torch.Tensor


def decompose_kl(posterior: DiagonalGaussian, z: torch.Tensor) -> KLDecomposition:
    """Minibatch estimates of the three terms for samples z (B, D), z_i ~ q(z | x_i).

    log q(z_i) is estimated as logsumexp_j log q(z_i | x_j) - log B, and each marginal
    log q(z_id) the same way per dimension.
    """
    b = z.shape[0]
    # log q(z_i,d | x_j) for every pair: (B_i, B_j, D)
    mu, logvar = posterior.mu.unsqueeze(0), posterior.logvar.unsqueeze(0)  # (1, B, D)
    pair = -0.5 * (LOG_2PI + logvar + (z.unsqueeze(1) - mu) ** 2 * torch.exp(-logvar))  # (B, B, D)
    log_norm = math.log(b)
    log_qz = torch.logsumexp(pair.sum(-1), dim=1) - log_norm  # (B,)
    log_prod_qzd = (torch.logsumexp(pair, dim=1) - log_norm).sum(-1)  # (B,)
    log_qz_x = posterior.log_prob(z)  # (B,)
    log_pz = -0.5 * (LOG_2PI + z**2).sum(-1)  # (B,)  N(0, I)
    return KLDecomposition(log_qz_x - log_qz, log_qz - log_prod_qzd, log_prod_qzd - log_pz)


def tcvae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """rec + MI + β TC + dimension-wise KL (Chen et al. 2018, eq. 4 with α = γ = 1).

    ``penalty`` reports the total correlation; ``kl`` the closed-form KL for comparison with VAEs.
    """
    posterior = _posterior(output)
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    z = output.z if output.z.dim() == 2 else output.z[0]  # (B, D): one sample per example
    parts = decompose_kl(posterior, z)
    loss = rec + parts.mutual_information + config.beta * parts.total_correlation + parts.dimension_kl
    return LossTerms(loss=loss, reconstruction=rec, kl=posterior.kl(), penalty=parts.total_correlation)


def factor_vae_loss(
    output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None, critic: TCDiscriminator | None = None
) -> LossTerms:
    """rec + KL + γ TC, with the TC estimated by a discriminator (Kim & Mnih 2018, eq. 2).

    The discriminator is a ``Critic``: here it is read (the trainer keeps it frozen during the
    model's step) and trained in the trainer's second step. ``penalty`` reports its TC estimate.
    """
    if critic is None:
        raise TypeError("the factor-vae objective needs its TC discriminator (make_objective(..., latent_dim=D) builds it)")
    posterior = _posterior(output)
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    kl = posterior.kl()  # (B,)
    z = output.z if output.z.dim() == 2 else output.z[0]  # (B, D)
    tc = critic.total_correlation(z)  # (B,)
    return LossTerms(loss=rec + kl + config.gamma * tc, reconstruction=rec, kl=kl, penalty=tc)
