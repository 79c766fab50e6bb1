"""Maximum mean discrepancy between the codes of a batch and samples of the prior, and the objectives
built on it: the Wasserstein autoencoder (WAE-MMD, Tolstikhin et al. 2018) and InfoVAE (Zhao et
al. 2019).

The MMD is one number for the batch; like the other batch penalties it is returned as (B,) copies,
so the trainer's batch mean is that number.
"""

from __future__ import annotations

import torch

from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.elbo import kl_term, reconstruction_nll
from vaekit.objectives.kl import posterior_kl
from vaekit.types import LossTerms, ModelOutput, Step

IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # multiples of C = 2 D, as in the WAE paper's code


def _square_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b).pow(2)  # (N, M)


def kernel(a: torch.Tensor, b: torch.Tensor, kind: str) -> torch.Tensor:
    """k(a_i, b_j) for codes a (N, D), b (M, D): (N, M).

    imq: the inverse multiquadratic sum_s C_s / (C_s + |a - b|^2) over C_s = s 2D (Tolstikhin et
    al. 2018, section 4, for a N(0, I) prior); rbf: exp(-|a - b|^2 / (2 D)), a Gaussian kernel of
    bandwidth^2 = D.
    """
    d = a.shape[-1]
    sq = _square_distances(a, b)  # (N, M)
    if kind == "rbf":
        return torch.exp(-sq / (2.0 * d))
    return sum(s * 2.0 * d / (s * 2.0 * d + sq) for s in IMQ_SCALES)


def mmd(z: torch.Tensor, prior_z: torch.Tensor, kind: str = "imq") -> torch.Tensor:
    """The unbiased estimate of MMD^2 between codes z (B, D) and prior samples (B, D), a scalar.

    The U-statistic of Gretton et al. (2012, Lemma 6) over pairs i != j of
    h = k(z_i, z_j) + k(p_i, p_j) - k(z_i, p_j) - k(z_j, p_i): exactly 0 when the two sets are equal.
    """
    n = z.shape[0]
    if n < 2:
        return z.new_zeros(())
    off = ~torch.eye(n, dtype=torch.bool, device=z.device)  # (B, B) pairs i != j
    k_zz, k_pp, k_zp = kernel(z, z, kind), kernel(prior_z, prior_z, kind), kernel(z, prior_z, kind)  # (B, B) each
    return (k_zz + k_pp - k_zp - k_zp.T)[off].sum() / (n * (n - 1))


def _codes(output: ModelOutput) -> tuple[torch.Tensor, torch.Tensor]:
    if output.prior_sample is None:
        raise TypeError("this objective compares the codes with prior samples: the model must draw them (draws_prior_sample)")
    z = output.z if output.z.dim() == 2 else output.z[0]  # (B, D): one code per example
    return z, output.prior_sample


def wae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """WAE-MMD: reconstruction + λ MMD(q(z), p(z)) with λ = ``config.mmd_weight`` (Tolstikhin et al.
    2018, Algorithm 2); ``penalty`` reports the MMD."""
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    z, prior_z = _codes(output)
    penalty = mmd(z, prior_z, config.kernel).expand(rec.shape[0])  # (B,)
    return LossTerms(loss=rec + config.mmd_weight * penalty, reconstruction=rec, penalty=penalty)


def info_vae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """InfoVAE: rec + (1 - α) KL + (α + λ - 1) MMD(q(z), p(z)) (Zhao et al. 2019, eq. 6 with the MMD
    as the divergence), α = ``config.info_alpha``, λ = ``config.mmd_weight``. The KL goes through
    the ELBO's schedules (warm-up, free bits) with β = 1 - α."""
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    kl, kl_per_dim = posterior_kl(output)  # (B,), (B, D) or None
    z, prior_z = _codes(output)
    penalty = mmd(z, prior_z, config.kernel).expand(rec.shape[0])  # (B,)
    weighted_kl = (1 - config.info_alpha) * kl_term(kl, kl_per_dim, config, step)  # (B,)
    loss = rec + weighted_kl + (config.info_alpha + config.mmd_weight - 1) * penalty
    return LossTerms(loss=loss, reconstruction=rec, kl=kl, penalty=penalty)
