"""Training: a generic loop over an objective's signature; it does not know what a VAE is."""

from __future__ import annotations

from vaekit.training.checkpoint import Progress
from vaekit.training.trainer import TrainConfig, Trainer, TrainResult, resolve_device

__all__ = ["Progress", "TrainConfig", "TrainResult", "Trainer", "resolve_device"]
