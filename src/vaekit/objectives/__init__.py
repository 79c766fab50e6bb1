"""Pure objectives: per-example values in nats, shape (B,). They see model outputs, never models.

``config.py`` holds the weights, ``registry.py`` the objectives by name; one file per family of terms.
"""

from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.critics import Critic, TCDiscriminator, permute_dims
from vaekit.objectives.dip import aggregate_covariance, dip_penalty, dip_vae_loss
from vaekit.objectives.elbo import elbo_loss, free_bits_kl, kl_term, reconstruction_loss, reconstruction_nll
from vaekit.objectives.iwae import (
    ciwae_loss,
    importance_log_weights,
    iwae_bound,
    iwae_log_weights,
    iwae_loss,
    miwae_bound,
    miwae_loss,
    piwae_loss,
)
from vaekit.objectives.kl import has_closed_form, kl_divergence, kl_monte_carlo, posterior_kl
from vaekit.objectives.registry import CRITICS, OBJECTIVES, READS, BoundObjective, Objective, check_options, make_objective
from vaekit.objectives.regularizers import contractive_loss, jacobian_frobenius_sq, kl_sparsity, l1_activity, sparse_loss, vq_loss
from vaekit.objectives.schedules import capacity, kl_weight
from vaekit.objectives.tc import KLDecomposition, decompose_kl, factor_vae_loss, tcvae_loss

__all__ = [
    "CRITICS",
    "BoundObjective",
    "Critic",
    "TCDiscriminator",
    "aggregate_covariance",
    "dip_penalty",
    "dip_vae_loss",
    "factor_vae_loss",
    "permute_dims",
    "OBJECTIVES",
    "READS",
    "KLDecomposition",
    "Objective",
    "ObjectiveConfig",
    "capacity",
    "ciwae_loss",
    "has_closed_form",
    "miwae_bound",
    "miwae_loss",
    "piwae_loss",
    "posterior_kl",
    "check_options",
    "contractive_loss",
    "decompose_kl",
    "elbo_loss",
    "free_bits_kl",
    "importance_log_weights",
    "iwae_bound",
    "iwae_log_weights",
    "iwae_loss",
    "jacobian_frobenius_sq",
    "kl_divergence",
    "kl_monte_carlo",
    "kl_sparsity",
    "kl_term",
    "kl_weight",
    "l1_activity",
    "make_objective",
    "reconstruction_loss",
    "reconstruction_nll",
    "sparse_loss",
    "tcvae_loss",
    "vq_loss",
]
