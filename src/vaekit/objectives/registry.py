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
from vaekit.objectives.critics import Critic, TCDiscriminator
from vaekit.objectives.dip import dip_vae_loss
from vaekit.objectives.elbo import elbo_loss, reconstruction_loss
from vaekit.objectives.iwae import ciwae_loss, iwae_loss, miwae_loss, piwae_loss
from vaekit.objectives.mmd import info_vae_loss, wae_loss
from vaekit.objectives.regularizers import contractive_loss, rae_loss, sparse_loss, vq_loss
from vaekit.objectives.tc import factor_vae_loss, tcvae_loss
from vaekit.types import LossTerms, ModelOutput, Step

Objective = Callable[[ModelOutput, torch.Tensor, Step | None], LossTerms]


OBJECTIVES: dict[str, Callable[..., LossTerms]] = {
    "elbo": elbo_loss,
    "iwae": iwae_loss,
    "miwae": miwae_loss,
    "piwae": piwae_loss,
    "ciwae": ciwae_loss,
    "tcvae": tcvae_loss,
    "reconstruction": reconstruction_loss,
    "sparse": sparse_loss,
    "contractive": contractive_loss,
    "vq": vq_loss,
    "factor": factor_vae_loss,
    "dip": dip_vae_loss,
    "wae": wae_loss,
    "info": info_vae_loss,
    "rae": rae_loss,
}

# The objectives with a learned part, and how to build it for latents of size D.
CRITICS: dict[str, Callable[[int, ObjectiveConfig], Critic]] = {
    "factor": lambda latent_dim, config: TCDiscriminator(latent_dim, lr=config.critic_lr),
}

KL_OPTIONS = {"beta", "kl_warmup_steps", "kl_cycles", "kl_cycle_ratio", "free_bits", "capacity", "capacity_steps", "capacity_gamma"}
RECONSTRUCTION_OPTIONS = {"reconstruction", "ms_ssim_mix"}
ADVERSARIAL_OPTIONS = {"adversarial", "adversarial_weight", "adversarial_start", "critic_lr"}  # any family (objectives/adversarial.py)
# The ObjectiveConfig fields each objective reads; any other field set away from its default is ignored.
READS: dict[str, set[str]] = {
    "elbo": KL_OPTIONS | RECONSTRUCTION_OPTIONS,
    "iwae": set(),  # the bound has no KL weight to warm up or scale
    "miwae": {"groups"},
    "piwae": {"groups"},
    "ciwae": {"ciwae_beta"},
    "tcvae": {"beta"},
    "reconstruction": RECONSTRUCTION_OPTIONS,
    "sparse": {"sparsity", "sparsity_weight", "sparsity_target"},
    "contractive": {"contractive_weight"},
    "vq": {"commitment"},
    "factor": {"gamma", "critic_lr"},
    "dip": {"dip_type", "dip_lambda_od", "dip_lambda_d"},
    "wae": {"mmd_weight", "kernel"},
    "info": KL_OPTIONS | {"mmd_weight", "kernel", "info_alpha"},
    "rae": {"code_weight", "gradient_penalty"},
}


def check_options(name: str, config: ObjectiveConfig, defaults: ObjectiveConfig) -> None:
    """Raise if ``config`` sets options that objective ``name`` would silently ignore."""
    reads = lookup(READS, name, "objective") | (ADVERSARIAL_OPTIONS if config.adversarial != "none" else set())
    ignored = [f.name for f in fields(config) if f.name not in reads and getattr(config, f.name) != getattr(defaults, f.name)]
    if ignored:
        flags = ", ".join("--" + n.replace("_", "-") for n in ignored)
        raise ConfigError(f"the {name} objective does not use {flags}; drop them or pick a model family that does")


class BoundObjective:
    """An objective with its config bound: ``f(output, x, step=None) -> LossTerms``.

    ``critic`` is the objective's learned part, when it has one (FactorVAE's discriminator): the
    trainer trains it with a second optimizer and keeps it in the training state.
    """

    def __init__(self, name: str, config: ObjectiveConfig, critic: Critic | None = None):
        self.__name__ = name
        self.fn, self.config, self.critic = lookup(OBJECTIVES, name, "objective"), config, critic

    def __call__(self, output: ModelOutput, x: torch.Tensor, step: Step | None = None) -> LossTerms:
        if self.critic is None:
            return self.fn(output, x, self.config, step)
        return self.fn(output, x, self.config, step, critic=self.critic)


def make_objective(name: str, config: ObjectiveConfig, latent_dim: int | None = None) -> BoundObjective:
    """The objective ``name`` with the config bound, and a freshly initialised critic if it has one
    (which needs ``latent_dim``; its weights come from torch's global RNG, seed it first)."""
    if name not in CRITICS:
        return BoundObjective(name, config)  # an unknown name fails in its lookup
    if latent_dim is None:
        raise ConfigError(f"the {name} objective trains a critic on the latent codes: make_objective needs latent_dim")
    return BoundObjective(name, config, CRITICS[name](latent_dim, config))
