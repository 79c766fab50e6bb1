"""The importance-weighted bound log p_K(x) (Burda et al. 2016, eq. 8), batched over K, chunked."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaekit.distributions import DiagonalGaussian, Likelihood
from vaekit.objectives.config import ObjectiveConfig
from vaekit.types import LossTerms, ModelOutput, Step


def importance_log_weights(
    x: torch.Tensor,
    z: torch.Tensor,
    posterior: DiagonalGaussian,
    prior: DiagonalGaussian,
    decode: Callable[[torch.Tensor], Likelihood],
) -> tuple[torch.Tensor, torch.Tensor]:
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) for samples z (k, B, D).

    Returns:
        (log_w, log_px_given_z), each (k, B).
    """
    log_px_z = decode(z).log_prob(x)  # (k, B)
    log_w = log_px_z + prior.log_prob(z) - posterior.log_prob(z)  # (k, B)
    return log_w, log_px_z


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k w_k from log-weights (K, B), shape (B,)."""
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


def iwae_log_weights(
    x: torch.Tensor,
    posterior: DiagonalGaussian,
    prior: DiagonalGaussian,
    decode: Callable[[torch.Tensor], Likelihood],
    k: int,
    generator: torch.Generator | None = None,
    max_rows: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor]:
    """All K log-weights for a batch, decoding at most ``max_rows`` latents at a time.

    The decoder sees (k_chunk, B, D) at once, so memory stays at about ``max_rows`` decoded
    examples whatever K is; the (K, B) log-weights themselves are small.

    Returns:
        (log_w, log_px_given_z), each (K, B).
    """
    chunk = max(1, max_rows // x.shape[0])
    # Written into buffers allocated up front: small per-chunk results kept in a list sit between
    # the chunks' large temporaries on the heap, and glibc then never reuses those holes, so the
    # process grew by about one decoded chunk per chunk (1.2 GB for 100 images at K = 5000;
    # bench/README.md, "Evaluation throughput").
    log_w = torch.empty(k, x.shape[0], dtype=x.dtype, device=x.device)  # (K, B)
    log_pxz = torch.empty_like(log_w)  # (K, B)
    for start in range(0, k, chunk):
        z = posterior.rsample(generator, n=min(chunk, k - start))  # (k_chunk, B, D)
        w, pxz = importance_log_weights(x, z, posterior, prior, decode)  # (k_chunk, B) each
        log_w[start : start + z.shape[0]] = w
        log_pxz[start : start + z.shape[0]] = pxz
    return log_w, log_pxz


def iwae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """Negative K-sample importance-weighted bound, the IWAE training objective (Burda et al. 2016).

    The model decodes K samples per example (``output.z`` is (K, B, D)); with K = 1 this is the
    ELBO with a Monte-Carlo KL. ``reconstruction`` and ``kl`` are reported as for the ELBO.
    """
    posterior = output.posterior
    if not isinstance(posterior, DiagonalGaussian):
        raise TypeError("the IWAE bound needs a Gaussian posterior")
    z = output.z if output.z.dim() == 3 else output.z.unsqueeze(0)  # (K, B, D)
    log_pxz = output.likelihood.log_prob(x)  # (K, B)
    log_pxz = log_pxz if log_pxz.dim() == 2 else log_pxz.unsqueeze(0)
    prior = DiagonalGaussian(torch.zeros_like(posterior.mu), torch.zeros_like(posterior.logvar))  # N(0, I)
    log_w = log_pxz + prior.log_prob(z) - posterior.log_prob(z)  # (K, B)
    return LossTerms(loss=-iwae_bound(log_w), reconstruction=-log_pxz.mean(0), kl=posterior.kl())
