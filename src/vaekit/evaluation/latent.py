"""Posterior health: which latent dimensions the model uses."""

from __future__ import annotations

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
