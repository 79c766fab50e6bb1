"""Where to train: ``--device auto`` picks cuda, then mps, then cpu."""

from __future__ import annotations

import torch

from vaekit.errors import ConfigError, lookup

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda, mps or cpu; an unavailable device is a clear error."""
    lookup({d: d for d in DEVICES}, name, "--device")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise ConfigError(f"--device {name} is not available on this machine; use --device cpu or auto")
    return torch.device(name)
