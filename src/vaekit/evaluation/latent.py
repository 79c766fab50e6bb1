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
def mutual_information(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 1024) -> float:
    """Estimate of I(x; z) under q(x, z) = p_data(x) q(z|x) (Hoffman & Johnson 2016), in nats.

    I = E[log q(z|x)] - E[log q(z)] with z_i ~ q(z|x_i) and the aggregate posterior
    q(z_i) = (1/N) sum_n q(z_i|x_n) over all N examples given. It is at most log N; near 0 means the
    posterior ignores x (posterior collapse). Computed in float64 whatever the inputs' dtype.

    Args:
        mu, logvar: posterior parameters of N examples, (N, D).
        chunk: rows of the (N, N) table of log q(z_i|x_n) held at once.
    """
    mu, logvar = mu.double(), logvar.double()
    n, d = mu.shape
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)  # (N, D)
    log_2pi = math.log(2 * math.pi)
    log_q_own = (-0.5 * (log_2pi + logvar + (z - mu) ** 2 * torch.exp(-logvar))).sum(-1)  # (N,)
    # sum_d (z_id - mu_nd)^2 p_nd = z_i^2 . p_n - 2 z_i . (mu_n p_n) + mu_n^2 . p_n with p = 1/sigma^2: two
    # (N, D) x (D, N) matrix products instead of an (N, N, D) elementwise table, 30x faster at N = 10^4.
    # In float64 the cancellation costs about 1e-16 x z^2 p, far below the nats reported.
    precision = torch.exp(-logvar)  # (N, D)
    constant = d * log_2pi + logvar.sum(-1) + (mu**2 * precision).sum(-1)  # (N,)
    log_q_agg = torch.empty(n, dtype=mu.dtype)  # (N,)
    for start in range(0, n, chunk):
        zc = z[start : start + chunk]  # (c, D)
        square = (zc**2) @ precision.T - 2.0 * zc @ (mu * precision).T + constant  # (c, N)
        log_q_agg[start : start + chunk] = torch.logsumexp(-0.5 * square, dim=1) - math.log(n)
    return float((log_q_own - log_q_agg).mean())
