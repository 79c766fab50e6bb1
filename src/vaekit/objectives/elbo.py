"""The ELBO (Kingma & Welling 2014, eq. 3) with its training aids, and the reconstruction objective.

Every function returns per-example terms in nats, shape (B,). A model may decode K posterior
samples at once (likelihood of shape (K, B, ...)); the reconstruction term is then their mean.
"""

from __future__ import annotations

import torch

from vaekit.distributions import DiagonalGaussian, Likelihood
from vaekit.errors import ConfigError
from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.kl import posterior_kl
from vaekit.objectives.schedules import capacity, kl_weight
from vaekit.types import LossTerms, ModelOutput, Step


def reconstruction_nll(likelihood: Likelihood, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) summed over the data dimensions, in nats: (B,), or the mean over K samples."""
    nll = -likelihood.log_prob(x)  # (B,) or (K, B)
    return nll.mean(0) if nll.dim() == 2 else nll


MS_SSIM_SCALES = 5  # pytorch-msssim's five scales, and its size rule: each side > (window - 1) x 2^4


def ms_ssim_window(height: int, width: int) -> int | None:
    """The largest odd Gaussian window (at most 11, the library's default) that pytorch-msssim's
    ms_ssim accepts for images of this size; None when the images are too small (a side <= 32)."""
    side = min(height, width)
    fits = [w for w in range(11, 2, -2) if side > (w - 1) * 2 ** (MS_SSIM_SCALES - 1)]
    return fits[0] if fits else None


def ms_ssim_term(mean: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """D (1 - MS-SSIM(mean, x)) of each image, (B,) (or the mean over K for (K, B, C, H, W) means):
    the MS-SSIM dissimilarity on the scale of a per-value loss summed over the D values."""
    from pytorch_msssim import ms_ssim  # imported where used: only this objective needs it

    k = mean.shape[0] if mean.dim() == 5 else 1
    flat = mean.reshape(-1, *x.shape[1:])  # (K*B, C, H, W)
    target = x.expand(k, *x.shape).reshape_as(flat)
    window = ms_ssim_window(*x.shape[-2:])
    score = ms_ssim(flat.clamp(0, 1), target, data_range=1.0, size_average=False, win_size=window)  # (K*B,)
    term = (1 - score) * x[0].numel()  # (K*B,)
    return term.view(k, -1).mean(0)


def trained_reconstruction(output: ModelOutput, x: torch.Tensor, nll: torch.Tensor, config: ObjectiveConfig) -> torch.Tensor:
    """The reconstruction term the loss pays, (B,): the NLL, or (1 - m) NLL + m D (1 - MS-SSIM)."""
    if config.reconstruction == "likelihood":
        return nll
    mix = config.ms_ssim_mix
    perceptual = ms_ssim_term(output.likelihood.mean, x)  # (B,)
    return perceptual if mix == 1 else (1 - mix) * nll + mix * perceptual


def free_bits_kl(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """KL with free bits (Kingma et al. 2016, eq. 15): each dimension pays at least ``free_bits`` nats.

    The floor applies to the batch-mean KL of each dimension; a dimension under it contributes the
    constant floor (no gradient). Returns (B,) whose batch mean is sum_j max(free_bits, mean_b KL_bj).
    """
    floor = torch.full_like(kl_per_dim, free_bits)
    above = kl_per_dim.mean(0, keepdim=True) >= free_bits  # (1, D)
    return torch.where(above, kl_per_dim, floor).sum(-1)  # (B,)


def _posterior(output: ModelOutput) -> DiagonalGaussian:
    """The posterior of an objective that reads its mean and variance (β-TCVAE, DIP-VAE, FactorVAE)."""
    if not isinstance(output.posterior, DiagonalGaussian):
        raise TypeError("this objective needs a Gaussian posterior (no --flow); use the 'reconstruction' objective for autoencoders")
    return output.posterior


def kl_term(kl: torch.Tensor, kl_per_dim: torch.Tensor | None, config: ObjectiveConfig, step: Step | None) -> torch.Tensor:
    """The weighted KL the loss pays, (B,): β times the (free-bits) KL, warm-up or cyclical weights,
    or the capacity form γ |KL - C(t)| of Burgess et al. (2018) when ``config.capacity`` is set.

    Args:
        kl: the KL of each example, (B,).
        kl_per_dim: its closed-form split over the latent dimensions (B, D), which free bits need;
            None for a Monte-Carlo KL (flow posteriors, mixture priors).
    """
    total = 0 if step is None else step.total
    t = None if step is None else step.step
    if config.capacity is not None:
        c = capacity(t, config.capacity, config.capacity_steps)
        # γ |mean KL - C| as per-example values: the batch mean and its gradient equal the paper's.
        side = torch.sign(kl.mean() - c).detach()
        return config.capacity_gamma * side * (kl - c)
    if config.free_bits > 0 and kl_per_dim is None:
        raise ConfigError("--free-bits needs the KL of each latent dimension: a Gaussian posterior (no --flow) and the N(0, I) prior")
    paid = free_bits_kl(kl_per_dim, config.free_bits) if config.free_bits > 0 else kl
    weight = config.beta * kl_weight(t, total, config.kl_warmup_steps, config.kl_cycles, config.kl_cycle_ratio)
    return weight * paid


def elbo_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """Negative ELBO: -E_q[log p(x|z)] + (weighted) KL(q(z|x) || p(z)).

    The reconstruction term is a Monte-Carlo estimate from the decoded sample(s); the KL is
    analytic for a Gaussian posterior and N(0, I) prior, a Monte-Carlo estimate at the same
    samples otherwise (``posterior_kl``). With β = 1 and no schedule, ``loss`` is the true
    negative ELBO in nats.

    Args:
        output: the model's forward pass on x, with a stochastic posterior and a prior.
        x: data (B, C, H, W).
        config: β and the training aids (warm-up, cycles, free bits, capacity).
        step: where training is (None: the end of every schedule, as for validation).

    Returns:
        LossTerms with loss, reconstruction and the true (unweighted) kl, each (B,).
    """
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    kl, kl_per_dim = posterior_kl(output)  # (B,), (B, D) or None
    paid = trained_reconstruction(output, x, rec, config)  # (B,): rec itself unless --reconstruction ms-ssim
    return LossTerms(loss=paid + kl_term(kl, kl_per_dim, config, step), reconstruction=rec, kl=kl)


def reconstruction_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """-log p(x|z) alone: MSE (as a fixed-variance Gaussian) or BCE, for autoencoders (or MS-SSIM)."""
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    return LossTerms(loss=trained_reconstruction(output, x, rec, config), reconstruction=rec)
