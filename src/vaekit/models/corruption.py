"""Input corruptions of the denoising autoencoder (Vincent et al. 2008); the target stays clean."""

from __future__ import annotations

import torch


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A corrupted copy of x (B, C, H, W).

    - gaussian: x + level * eps, eps ~ N(0, 1)
    - masking: each value set to 0 with probability ``level``
    - salt-pepper: each value set to 0 or 1 (equally likely) with probability ``level``
    """
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)  # (B, C, H, W)
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if kind == "masking":
        return torch.where(u < level, torch.zeros_like(x), x)
    salt = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) < 0.5  # (B, C, H, W)
    return torch.where(u < level, salt.to(x.dtype), x)
