"""DIP-VAE (Kumar et al. 2018): the ELBO plus a penalty pulling the aggregate posterior's
covariance towards the identity, so that the inferred factors are decorrelated."""

from __future__ import annotations

import torch

from vaekit.distributions import DiagonalGaussian
from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.elbo import _posterior, reconstruction_nll
from vaekit.types import LossTerms, ModelOutput, Step


def aggregate_covariance(posterior: DiagonalGaussian, kind: str) -> torch.Tensor:
    """The batch estimate of Cov[z] under q(z), (D, D).

    DIP-VAE-I: Cov_p(x)[mu(x)] (their eq. 6); DIP-VAE-II: Cov_p(x)[mu(x)] + E_p(x)[Sigma(x)] (eq. 7),
    the covariance of q(z) itself. Batch moments divide by B, as disentanglement_lib does.
    """
    mu = posterior.mu  # (B, D)
    centred = mu - mu.mean(0, keepdim=True)  # (B, D)
    cov = centred.T @ centred / mu.shape[0]  # (D, D)
    if kind == "ii":
        cov = cov + torch.diag(posterior.logvar.exp().mean(0))  # (D, D)
    return cov


def dip_penalty(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """lambda_od sum_{i != j} Cov_ij^2 + lambda_d sum_i (Cov_ii - 1)^2, a scalar (Kumar et al. 2018, eq. 5)."""
    diag = torch.diagonal(cov)  # (D,)
    off = cov - torch.diag(diag)  # (D, D)
    return lambda_od * (off**2).sum() + lambda_d * ((diag - 1) ** 2).sum()


def dip_vae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """Negative ELBO + the DIP penalty. The penalty is one number for the batch, returned as (B,)
    copies so the trainer's batch mean adds it once; ``penalty`` reports it."""
    posterior = _posterior(output)
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    kl = posterior.kl()  # (B,)
    lambda_d = config.dip_lambda_d if config.dip_lambda_d is not None else config.dip_lambda_od * (10.0 if config.dip_type == "i" else 1.0)
    penalty = dip_penalty(aggregate_covariance(posterior, config.dip_type), config.dip_lambda_od, lambda_d).expand(x.shape[0])  # (B,)
    return LossTerms(loss=rec + kl + penalty, reconstruction=rec, kl=kl, penalty=penalty)
