"""Input corruptions of the denoising autoencoder (Vincent et al. 2008); the target stays clean."""

from __future__ import annotations

import torch

from vaekit.errors import lookup


def _gaussian(x: torch.Tensor, level: float, generator: torch.Generator | None) -> torch.Tensor:
    """x + level * eps, eps ~ N(0, 1)."""
    torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)  # drawn by every kind: the noise stream is the same
    return x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _masking(x: torch.Tensor, level: float, generator: torch.Generator | None) -> torch.Tensor:
    """Each value set to 0 with probability ``level``."""
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)  # (B, C, H, W)
    return torch.where(u < level, torch.zeros_like(x), x)


def _salt_pepper(x: torch.Tensor, level: float, generator: torch.Generator | None) -> torch.Tensor:
    """Each value set to 0 or 1 (equally likely) with probability ``level``."""
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)  # (B, C, H, W)
    salt = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) < 0.5  # (B, C, H, W)
    return torch.where(u < level, salt.to(x.dtype), x)


CORRUPTIONS = {"gaussian": _gaussian, "masking": _masking, "salt-pepper": _salt_pepper}


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A corrupted copy of x (B, C, H, W): gaussian noise, masking or salt-and-pepper (``CORRUPTIONS``)."""
    return lookup(CORRUPTIONS, kind, "corruption")(x, level, generator)
