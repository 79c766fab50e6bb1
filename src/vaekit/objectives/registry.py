"""The objectives by name, and which options each one reads.

``OBJECTIVES`` maps the name a model family declares to ``f(output, x, config, step) -> LossTerms``;
``make_objective`` binds the config, giving the trainer ``f(output, x, step)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import torch

from vaekit.errors import ConfigError, lookup
from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.elbo import elbo_loss, reconstruction_loss
from vaekit.objectives.iwae import iwae_loss
from vaekit.objectives.regularizers import contractive_loss, sparse_loss, vq_loss
from vaekit.objectives.tc import tcvae_loss
from vaekit.types import LossTerms, ModelOutput, Step

Objective = Callable[[ModelOutput, torch.Tensor, Step | None], LossTerms]


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
    reads = lookup(READS, name, "objective")
    ignored = [f.name for f in fields(config) if f.name not in reads and getattr(config, f.name) != getattr(defaults, f.name)]
    if ignored:
        flags = ", ".join("--" + n.replace("_", "-") for n in ignored)
        raise ConfigError(f"the {name} objective does not use {flags}; drop them or pick a model family that does")


def make_objective(name: str, config: ObjectiveConfig) -> Objective:
    """The objective ``name`` with the config bound: ``f(output, x, step=None) -> LossTerms``."""
    fn = lookup(OBJECTIVES, name, "objective")

    def objective(output: ModelOutput, x: torch.Tensor, step: Step | None = None) -> LossTerms:
        return fn(output, x, config, step)

    objective.__name__ = name
    return objective
