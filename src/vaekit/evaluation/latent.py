"""Posterior health: which latent dimensions the model uses, and how much z says about x."""

from __future__ import annotations

import math

import torch

ACTIVE_THRESHOLD = 0.01  # Burda et al. (2016), section 5.2


def active_units(mu: torch.Tensor, threshold: float = ACTIVE_THRESHOLD) -> int:
    """Number of dimensions u with Cov_x(E_q[z_u | x]) > threshold (Burda et al. 2016).

    Args:
        mu: posterior means over a dataset, (N, D).
    """
    if mu.shape[0] < 2:
        return 0
    return int((mu.double().var(dim=0) > threshold).sum())


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean KL(q(z_u|x) || N(0, 1)) of each dimension over a dataset, (D,) nats."""
    return (0.5 * (logvar.exp() + mu**2 - 1.0 - logvar)).mean(0)


def perplexity(code_counts: torch.Tensor) -> float:
    """exp(entropy) of a VQ-VAE's code usage (K,): K when all codes are used equally, 1 when one is."""
    p = code_counts / code_counts.sum()
    return float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()))


@torch.no_grad()
def mutual_information(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 512) -> float:
    """Estimate of I(x; z) under q(x, z) = p_data(x) q(z|x) (Hoffman & Johnson 2016), in nats.

    I = E[log q(z|x)] - E[log q(z)] with z_i ~ q(z|x_i) and the aggregate posterior
    q(z_i) = (1/N) sum_n q(z_i|x_n) over all N examples given. It is at most log N; near 0 means the
    posterior ignores x (posterior collapse).

    Args:
        mu, logvar: posterior parameters of N examples, (N, D).
    """
    n = mu.shape[0]
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)  # (N, D)
    log_2pi = math.log(2 * math.pi)
    log_q_own = (-0.5 * (log_2pi + logvar + (z - mu) ** 2 * torch.exp(-logvar))).sum(-1)  # (N,)
    log_q_agg = []
    for start in range(0, n, chunk):
        zc = z[start:start + chunk, None, :]  # (c, 1, D)
        pair = (-0.5 * (log_2pi + logvar[None] + (zc - mu[None]) ** 2 * torch.exp(-logvar[None]))).sum(-1)  # (c, N)
        log_q_agg.append(torch.logsumexp(pair, dim=1) - math.log(n))
    return float((log_q_own - torch.cat(log_q_agg)).mean())
