"""The importance-weighted bound log p_K(x) (Burda et al. 2016, eq. 8), batched over K, chunked, and
its variants MIWAE, CIWAE and PIWAE (Rainforth et al. 2018)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaekit.distributions import Likelihood, Posterior, Prior
from vaekit.errors import ConfigError
from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.kl import log_prior_at_z, posterior_kl, require_density
from vaekit.types import LossTerms, ModelOutput, Step


def importance_log_weights(
    x: torch.Tensor, z: torch.Tensor, log_q: torch.Tensor, prior: Prior, decode: Callable[[torch.Tensor], Likelihood]
) -> tuple[torch.Tensor, torch.Tensor]:
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) for samples z (k, B, D) with log q (k, B).

    Returns:
        (log_w, log_px_given_z), each (k, B).
    """
    log_px_z = decode(z).log_prob(x)  # (k, B)
    log_w = log_px_z + prior.log_prob(z) - log_q  # (k, B)
    return log_w, log_px_z


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k w_k from log-weights (K, B), shape (B,)."""
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


def iwae_log_weights(
    x: torch.Tensor,
    posterior: Posterior,
    prior: Prior,
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
        z, log_q = posterior.rsample_with_log_prob(generator, n=min(chunk, k - start))  # (k_chunk, B, D), (k_chunk, B)
        w, pxz = importance_log_weights(x, z, log_q, prior, decode)  # (k_chunk, B) each
        log_w[start : start + z.shape[0]] = w
        log_pxz[start : start + z.shape[0]] = pxz
    return log_w, log_pxz


def _sample_terms(output: ModelOutput, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward pass's K samples z (K, B, D) with log p(x|z) and log p(z), each (K, B)."""
    require_density(output, "the importance-weighted bounds")
    z = output.z if output.z.dim() == 3 else output.z.unsqueeze(0)  # (K, B, D)
    log_pxz = output.likelihood.log_prob(x)  # (K, B)
    log_pxz = log_pxz if log_pxz.dim() == 2 else log_pxz.unsqueeze(0)
    return z, log_pxz, log_prior_at_z(output, z)  # (K, B, D), (K, B), (K, B)


def _log_weights(output: ModelOutput, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward pass's log-weights and log p(x|z), each (K, B), from its K samples."""
    z, log_pxz, log_pz = _sample_terms(output, x)  # (K, B, D), (K, B), (K, B)
    log_q = output.log_q if output.log_q is not None else output.posterior.log_prob(z)  # (K, B)
    return log_pxz + log_pz - log_q.reshape(log_pz.shape), log_pxz  # (K, B) each


def iwae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """Negative K-sample importance-weighted bound, the IWAE training objective (Burda et al. 2016).

    The model decodes K samples per example (``output.z`` is (K, B, D)); with K = 1 this is the
    ELBO with a Monte-Carlo KL. ``reconstruction`` and ``kl`` are reported as for the ELBO.
    """
    log_w, log_pxz = _log_weights(output, x)  # (K, B)
    return LossTerms(loss=-iwae_bound(log_w), reconstruction=-log_pxz.mean(0), kl=posterior_kl(output)[0])


def _groups(log_w: torch.Tensor, m: int) -> torch.Tensor:
    """The K = M x K' log-weights (K, B) as M groups of K' consecutive samples, (M, K', B)."""
    if log_w.shape[0] % m:
        raise ConfigError(f"--groups {m} must divide the {log_w.shape[0]} samples per example (--samples); use a multiple of it")
    return log_w.reshape(m, log_w.shape[0] // m, -1)  # (M, K', B)


def miwae_bound(log_w: torch.Tensor, m: int) -> torch.Tensor:
    """MIWAE(M, K'): the mean over M groups of their K'-sample IWAE bounds (Rainforth et al. 2018), (B,).

    M = 1 is the IWAE bound of all K samples; K' = 1 the ELBO averaged over K samples.
    """
    groups = _groups(log_w, m)  # (M, K', B)
    return (torch.logsumexp(groups, dim=1) - math.log(groups.shape[1])).mean(0)  # (B,)


def miwae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """Negative MIWAE(M, K/M) bound from the forward pass's K samples, M = ``config.groups``."""
    log_w, log_pxz = _log_weights(output, x)  # (K, B)
    return LossTerms(loss=-miwae_bound(log_w, config.groups), reconstruction=-log_pxz.mean(0), kl=posterior_kl(output)[0])


def ciwae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """Negative CIWAE bound β ELBO + (1 - β) IWAE over the same K samples, β = ``config.ciwae_beta``
    (Rainforth et al. 2018, eq. 6; the ELBO here is the mean of the K log-weights)."""
    log_w, log_pxz = _log_weights(output, x)  # (K, B)
    bound = config.ciwae_beta * log_w.mean(0) + (1 - config.ciwae_beta) * iwae_bound(log_w)  # (B,)
    return LossTerms(loss=-bound, reconstruction=-log_pxz.mean(0), kl=posterior_kl(output)[0])


def piwae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """PIWAE (Rainforth et al. 2018): the decoder (and a learned prior) follow the IWAE gradient of
    all K samples, the encoder the MIWAE(M, K/M) gradient, in one backward pass.

    The forward pass's samples z are decoded once more, detached (``output.decode``), so
    L = -IWAE(w(z_d)) - MIWAE(w(z)) + MIWAE(w(z_d)) with z_d = sg(z) and sg(log q) in w(z_d):
    its value is the IWAE bound; the decoder's gradient is IWAE's (the two MIWAE terms have equal
    gradients with respect to the decoder, since z_d equals z, and cancel); the encoder reaches
    only MIWAE(w(z)). Every weight is a softmax within its own sum, so nothing underflows.
    """
    if output.decode is None:
        raise TypeError("the piwae objective decodes the samples a second time: the model's output must carry its decoder")
    z, log_pxz, log_pz = _sample_terms(output, x)  # (K, B, D), (K, B), (K, B)
    log_q = output.log_q if output.log_q is not None else output.posterior.log_prob(z)  # (K, B)
    log_w = log_pxz + log_pz - log_q.reshape(log_pz.shape)  # (K, B): both paths
    z_d = z.detach()
    log_pxz_d = output.decode(z_d).log_prob(x)  # (K, B): the decoder's path only
    log_w_d = log_pxz_d + output.prior.log_prob(z_d) - log_q.reshape(log_pz.shape).detach()  # (K, B)
    bound = iwae_bound(log_w_d) + miwae_bound(log_w, config.groups) - miwae_bound(log_w_d, config.groups)  # (B,)
    return LossTerms(loss=-bound, reconstruction=-log_pxz.mean(0), kl=posterior_kl(output)[0])
