"""Pure objectives: per-example values in nats, shape (B,). They see model outputs, never models.

``OBJECTIVES`` maps the name a model family declares to ``f(output, x, beta) -> LossTerms``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from vaekit.errors import ConfigError
from vaekit.objectives.elbo import elbo_loss, reconstruction_loss, reconstruction_nll
from vaekit.objectives.iwae import importance_log_weights, iwae_bound, iwae_log_weights
from vaekit.objectives.kl import kl_divergence, kl_monte_carlo
from vaekit.types import LossTerms, ModelOutput

Objective = Callable[[ModelOutput, torch.Tensor], LossTerms]

OBJECTIVES: dict[str, Callable[..., LossTerms]] = {
    "elbo": elbo_loss,
    "reconstruction": reconstruction_loss,
}


@dataclass(frozen=True)
class ObjectiveConfig:
    """Weights of the objective's terms."""

    beta: float = 1.0
    """Weight of the KL term only (β-VAE); β = 1 is the true ELBO."""

    def __post_init__(self) -> None:
        if not self.beta >= 0:
            raise ConfigError(f"--beta must be 0 or more, got {self.beta}")


def make_objective(name: str, config: ObjectiveConfig) -> Objective:
    """The objective ``name`` with the config's weights bound: ``f(output, x) -> LossTerms``."""
    fn = OBJECTIVES[name]

    def objective(output: ModelOutput, x: torch.Tensor) -> LossTerms:
        return fn(output, x, beta=config.beta)

    objective.__name__ = name
    return objective


__all__ = [
    "OBJECTIVES",
    "Objective",
    "ObjectiveConfig",
    "elbo_loss",
    "importance_log_weights",
    "iwae_bound",
    "iwae_log_weights",
    "kl_divergence",
    "kl_monte_carlo",
    "make_objective",
    "reconstruction_loss",
    "reconstruction_nll",
]
