"""The variational autoencoder (Kingma & Welling 2014) with a diagonal Gaussian posterior."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from vaekit.distributions import DiagonalGaussian, FlowPosterior, GaussianMixture, Likelihood
from vaekit.models import networks
from vaekit.models.base import LatentModel
from vaekit.models.flows import Flow
from vaekit.models.networks import LikelihoodHead

if TYPE_CHECKING:
    from vaekit.models.config import ModelConfig


class VAE(LatentModel):
    """MLP encoder to (mu, logvar), N(0, I) prior, MLP decoder to a likelihood.

    With ``condition_dim`` > 0 it is a conditional VAE (Sohn et al. 2015): the condition y (one-hot
    label or attribute vector) is concatenated to the encoder's features and to z.

    With ``hidden=(400,)``, ``latent_dim=20`` on 28x28 data this is exactly the seed's
    ``VariationalAutoencoder``: one 784-400-40 encoder whose output is split into ``mu`` and
    ``logvar``, and a 20-400-784 decoder (same state-dict keys).

    With ``flow`` set, the posterior is that Gaussian pushed through a normalizing flow
    (``FlowPosterior``): planar, radial or IAF steps.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.latent_dim = config.latent_dim
        self.data_shape = tuple(config.input_shape)
        self.samples = config.samples
        self.conditioning = config.condition if config.condition_dim else None
        self.condition_dim = config.condition_dim
        self.encoder = networks.encoder(config, 2 * config.latent_dim)
        self.decoder = networks.decoder(config)
        self.head = LikelihoodHead(
            config.likelihood, config.input_shape, config.output_activation, config.gaussian_std, config.learn_variance
        )
        self.flow = Flow(config.flow, config.flow_steps, config.latent_dim) if config.flow != "none" else None

    def encode_gaussian(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> DiagonalGaussian:
        """The encoder's Gaussian q0(z|x), before any flow, (B, D)."""
        h = self.encoder(x, condition)  # (B, 2D)
        mu, logvar = h.chunk(2, dim=-1)  # (B, D) each
        return DiagonalGaussian(mu, logvar)

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> DiagonalGaussian | FlowPosterior:
        base = self.encode_gaussian(x, condition)  # (B, D)
        return base if self.flow is None else FlowPosterior(base, self.flow)

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> Likelihood:
        return self.head(self.decoder(networks.with_condition(z, condition)))  # (..., C, H, W)

    def prior(self, n: int, like: torch.Tensor | None = None) -> DiagonalGaussian:
        like = next(self.parameters()) if like is None else like
        return DiagonalGaussian.standard(n, self.latent_dim, like)  # (n, D)


def vamp_init(config: ModelConfig) -> torch.Tensor:
    """The raw pseudo-inputs at their start, (M, C, H, W): N(0.05, 0.01^2) per pixel for images (the
    initialisation of Tomczak & Welling's code), N(0, 0.01^2) for unbounded rows."""
    init = 0.05 + 0.01 * torch.randn(config.pseudo_inputs, *config.input_shape)  # (M, C, H, W)
    return init if config.output_activation == "sigmoid" else init - 0.05


def pseudo_inputs(raw: torch.Tensor, bounded: bool) -> torch.Tensor:
    """The pseudo-inputs the encoder sees: kept in [0, 1] by a hardtanh for images."""
    return F.hardtanh(raw, 0.0, 1.0) if bounded else raw


class VampVAE(VAE):
    """The VAE with a VampPrior (Tomczak & Welling 2018): p(z) = (1/M) sum_m q(z|u_m), the mixture of
    the encoder's posteriors at M learned pseudo-inputs u_m (their eq. 9).

    The pseudo-inputs are parameters of the data's shape, trained with the rest; images keep them
    in [0, 1] by a hardtanh, and they start at N(0.05, 0.01^2) per pixel, the initialisation of the
    paper's code. The prior is recomputed from them at every forward pass (M encoder rows per
    step), so its gradient reaches the pseudo-inputs and the encoder.
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.bounded = config.output_activation == "sigmoid"  # images in [0, 1]
        self.pseudo = nn.Parameter(vamp_init(config))

    def pseudo_inputs(self) -> torch.Tensor:
        """The M pseudo-inputs u_m, (M, C, H, W)."""
        return pseudo_inputs(self.pseudo, self.bounded)

    def prior(self, n: int, like: torch.Tensor | None = None) -> GaussianMixture:
        components = self.encode_gaussian(self.pseudo_inputs())  # (M, D)
        return GaussianMixture(components.mu, components.logvar, n)


class InfoVAE(VAE):
    """The VAE of InfoVAE (Zhao et al. 2019): the same network; its forward pass also draws the prior
    samples that the objective's MMD compares the codes with."""

    draws_prior_sample = True
