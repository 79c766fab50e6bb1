"""Honest likelihoods: ELBO terms and the importance-weighted log p(x), in nats and bits/dim."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from vaekit.data import InMemoryDataset
from vaekit.distributions import DiagonalGaussian, validation
from vaekit.evaluation.latent import active_units, perplexity
from vaekit.models import LatentModel
from vaekit.objectives import iwae_bound, iwae_log_weights, reconstruction_nll


@dataclass(frozen=True)
class Report:
    """Mean per-example metrics on one split (nats unless named otherwise).

    ``elbo``, ``kl``, ``iwae_log_px``, ``nll``, ``bits_per_dim`` and ``active_units`` are None for
    models without a prior (autoencoders): they have no likelihood of x, only reconstructions.
    ``codebook_perplexity`` (VQ-VAE only) is exp(entropy) of the code usage: K when every code is
    used equally.
    """

    split: str
    n: int
    iw_samples: int
    elbo: float | None
    reconstruction_nll: float
    kl: float | None
    iwae_log_px: float | None
    nll: float | None
    bits_per_dim: float | None
    active_units: int | None
    mse: float
    codebook_perplexity: float | None = None

    def as_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)


@torch.no_grad()
def _autoencoder_sums(model: LatentModel, x: torch.Tensor, y: torch.Tensor | None, code_counts: torch.Tensor | None) -> dict[str, torch.Tensor]:
    output = model(x, None, y)  # eval mode: the code itself, no corruption
    if output.quantized is not None:  # VQ-VAE: count how often each code is used
        code_counts += torch.bincount(output.quantized.codes.flatten().cpu(), minlength=code_counts.numel())
    likelihood = output.likelihood  # (B, C, H, W)
    return {"reconstruction_nll": reconstruction_nll(likelihood, x).sum(), "mse": ((likelihood.mean - x) ** 2).flatten(1).mean(1).sum()}


@torch.no_grad()
def _vae_sums(model: LatentModel, x: torch.Tensor, y: torch.Tensor | None, k: int, generator: torch.Generator | None,
              max_rows: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    posterior = model.encode(x, y)  # (B, D)
    assert isinstance(posterior, DiagonalGaussian)
    prior = model.prior(x.shape[0], like=x)  # (B, D)
    log_w, log_pxz = iwae_log_weights(x, posterior, prior, lambda z: model.decode(z, y), k, generator, max_rows)  # (K, B)
    kl = posterior.kl(prior)  # (B,)
    rec = -log_pxz.mean(0)  # (B,)  Monte-Carlo over the same K samples
    mean_x = model.decode(posterior.mode(), y).mean  # (B, C, H, W)
    sums = {
        "reconstruction_nll": rec.sum(),
        "kl": kl.sum(),
        "elbo": (-rec - kl).sum(),
        "iwae_log_px": iwae_bound(log_w).sum(),
        "mse": ((mean_x - x) ** 2).flatten(1).mean(1).sum(),
    }
    return sums, posterior.mu


def evaluate(
    model: LatentModel,
    data: InMemoryDataset,
    split: str = "test",
    iw_samples: int = 1000,
    generator: torch.Generator | None = None,
    batch_size: int = 100,
    max_rows: int = 4096,
) -> Report:
    """ELBO, reconstruction, KL, the K-sample importance-weighted log p(x), bits/dim, active units.

    The ELBO's reconstruction term is averaged over the same K posterior samples as the IWAE
    bound, so ``iwae_log_px >= elbo`` holds per example up to float error, and both grow
    tighter with K (Burda et al. 2016, Theorem 1). For a conditional model these are log p(x | y). ``bits_per_dim = nll / (D ln 2)``: for binary
    data a code length; for continuous likelihoods a density on the [0, 1] scale.

    Args:
        model: a trained model (put in eval mode here).
        data: the split to evaluate, on the model's device.
        split: its name, for the report.
        iw_samples: K, importance samples per example.
        generator: randomness for the posterior samples (pass a seeded one to repeat results).
        batch_size: examples per batch; the decoder sees at most ``max_rows`` latents at once.
    """
    model.eval()
    n, dims = len(data), math.prod(data.shape)
    totals: dict[str, float] = {}
    mus = []
    code_counts = torch.zeros(getattr(model, "codebook_size", 1))  # (K,)
    with validation(True):
        for start in range(0, n, batch_size):
            index = slice(start, start + batch_size)
            x = data.batch(index, generator)  # (B, C, H, W)
            y = data.condition(index, model.conditioning, model.condition_dim)  # (B, Y) or None
            if model.has_prior:
                sums, mu = _vae_sums(model, x, y, iw_samples, generator, max_rows)
                mus.append(mu.cpu())
            else:
                sums = _autoencoder_sums(model, x, y, code_counts)
            for key, value in sums.items():
                totals[key] = totals.get(key, 0.0) + float(value)
    mean = {k: v / n for k, v in totals.items()}
    if not model.has_prior:
        codes = perplexity(code_counts) if hasattr(model, "codebook_size") else None
        return Report(split, n, 0, None, mean["reconstruction_nll"], None, None, None, None, None, mean["mse"], codes)
    nll = -mean["iwae_log_px"]
    return Report(
        split=split,
        n=n,
        iw_samples=iw_samples,
        elbo=mean["elbo"],
        reconstruction_nll=mean["reconstruction_nll"],
        kl=mean["kl"],
        iwae_log_px=mean["iwae_log_px"],
        nll=nll,
        bits_per_dim=nll / (dims * math.log(2)),
        active_units=active_units(torch.cat(mus)),
        mse=mean["mse"],
    )
