"""Pure objectives: per-example values in nats, shape (B,). They see model outputs, never models.

``OBJECTIVES`` maps the name a model family declares to ``f(output, x, config, step) -> LossTerms``;
``make_objective`` binds the config, giving the trainer ``f(output, x, step)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Literal

import torch

from vaekit.errors import ConfigError
from vaekit.objectives.elbo import elbo_loss, free_bits_kl, kl_term, reconstruction_loss, reconstruction_nll
from vaekit.objectives.iwae import importance_log_weights, iwae_bound, iwae_log_weights, iwae_loss
from vaekit.objectives.kl import kl_divergence, kl_monte_carlo
from vaekit.objectives.regularizers import contractive_loss, jacobian_frobenius_sq, kl_sparsity, l1_activity, sparse_loss, vq_loss
from vaekit.objectives.schedules import capacity, kl_weight, learning_rate
from vaekit.objectives.tc import KLDecomposition, decompose_kl, tcvae_loss
from vaekit.types import LossTerms, ModelOutput, Step

Objective = Callable[[ModelOutput, torch.Tensor, Step | None], LossTerms]


@dataclass(frozen=True)
class ObjectiveConfig:
    """Weights of the objective's terms and their schedules."""

    beta: float = 1.0
    """Weight of the KL term only (β-VAE; β = 1 is the true ELBO), or of the total correlation (β-TCVAE)."""
    kl_warmup_steps: int = 0
    """Raise the KL weight linearly from 0 to β over this many steps (0: off)."""
    kl_cycles: int = 0
    """Cyclical KL annealing (Fu et al. 2019): this many cycles over the run (0: off)."""
    kl_cycle_ratio: float = 0.5
    """Fraction of each cycle spent raising the KL weight."""
    free_bits: float = 0.0
    """Free bits (Kingma et al. 2016): nats of KL per latent dimension not penalised (0: off)."""
    capacity: float | None = None
    """β-VAE capacity annealing (Burgess et al. 2018): target KL in nats; the loss is γ|KL - C(t)|."""
    capacity_steps: int = 10_000
    """Steps over which the capacity target rises from 0."""
    capacity_gamma: float = 1000.0
    """γ of the capacity form."""
    sparsity: Literal["l1", "kl"] = "l1"
    """sparse-ae: L1 activity penalty, or KL towards a target activation rate (needs a sigmoid code)."""
    sparsity_weight: float = 1e-3
    """sparse-ae: weight of the sparsity penalty."""
    sparsity_target: float = 0.05
    """sparse-ae: target mean activation ρ of the KL penalty."""
    contractive_weight: float = 1e-2
    """contractive-ae: weight of the encoder's squared Jacobian norm."""
    commitment: float = 0.25
    """vq-vae: weight of the commitment loss ||z_e - sg(z_q)||^2."""

    def __post_init__(self) -> None:
        for name in ("beta", "kl_warmup_steps", "kl_cycles", "free_bits", "capacity_steps", "capacity_gamma", "sparsity_weight",
                     "contractive_weight", "commitment"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
        if not 0 < self.kl_cycle_ratio <= 1:
            raise ConfigError(f"--kl-cycle-ratio must be in (0, 1], got {self.kl_cycle_ratio}")
        if not 0 < self.sparsity_target < 1:
            raise ConfigError(f"--sparsity-target must be in (0, 1), got {self.sparsity_target}")
        if self.capacity is not None and not self.capacity >= 0:
            raise ConfigError(f"--capacity must be 0 or more nats, got {self.capacity}")


OBJECTIVES: dict[str, Callable[..., LossTerms]] = {
    "elbo": elbo_loss,
    "iwae": iwae_loss,
    "tcvae": tcvae_loss,
    "reconstruction": reconstruction_loss,
    "sparse": sparse_loss,
    "contractive": contractive_loss,
    "vq": vq_loss,
}

KL_OPTIONS = {"beta", "kl_warmup_steps", "kl_cycles", "kl_cycle_ratio", "free_bits", "capacity", "capacity_steps", "capacity_gamma"}
# The ObjectiveConfig fields each objective reads; any other field set away from its default is ignored.
READS: dict[str, set[str]] = {
    "elbo": KL_OPTIONS,
    "iwae": set(),  # the bound has no KL weight to warm up or scale
    "tcvae": {"beta"},
    "reconstruction": set(),
    "sparse": {"sparsity", "sparsity_weight", "sparsity_target"},
    "contractive": {"contractive_weight"},
    "vq": {"commitment"},
}


def check_options(name: str, config: ObjectiveConfig, defaults: ObjectiveConfig) -> None:
    """Raise if ``config`` sets options that objective ``name`` would silently ignore."""
    ignored = [f.name for f in fields(config) if f.name not in READS[name] and getattr(config, f.name) != getattr(defaults, f.name)]
    if ignored:
        flags = ", ".join("--" + n.replace("_", "-") for n in ignored)
        raise ConfigError(f"the {name} objective does not use {flags}; drop them or pick a model family that does")


def make_objective(name: str, config: ObjectiveConfig) -> Objective:
    """The objective ``name`` with the config bound: ``f(output, x, step=None) -> LossTerms``."""
    fn = OBJECTIVES[name]

    def objective(output: ModelOutput, x: torch.Tensor, step: Step | None = None) -> LossTerms:
        return fn(output, x, config, step)

    objective.__name__ = name
    return objective


__all__ = [
    "OBJECTIVES",
    "READS",
    "check_options",
    "KLDecomposition",
    "contractive_loss",
    "decompose_kl",
    "jacobian_frobenius_sq",
    "tcvae_loss",
    "vq_loss",
    "Objective",
    "ObjectiveConfig",
    "capacity",
    "elbo_loss",
    "free_bits_kl",
    "importance_log_weights",
    "iwae_bound",
    "iwae_log_weights",
    "iwae_loss",
    "kl_divergence",
    "kl_monte_carlo",
    "kl_sparsity",
    "kl_term",
    "kl_weight",
    "l1_activity",
    "learning_rate",
    "make_objective",
    "reconstruction_loss",
    "reconstruction_nll",
    "sparse_loss",
]
