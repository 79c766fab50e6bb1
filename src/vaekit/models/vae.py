"""The variational autoencoder (Kingma & Welling 2014) with a diagonal Gaussian posterior."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vaekit.distributions import DiagonalGaussian, Likelihood
from vaekit.models import networks
from vaekit.models.base import LatentModel
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

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> DiagonalGaussian:
        h = self.encoder(x, condition)  # (B, 2D)
        mu, logvar = h.chunk(2, dim=-1)  # (B, D) each
        return DiagonalGaussian(mu, logvar)

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> Likelihood:
        return self.head(self.decoder(networks.with_condition(z, condition)))  # (..., C, H, W)

    def prior(self, n: int, like: torch.Tensor | None = None) -> DiagonalGaussian:
        like = next(self.parameters()) if like is None else like
        return DiagonalGaussian.standard(n, self.latent_dim, like)  # (n, D)
