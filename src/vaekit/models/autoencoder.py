"""The deterministic autoencoder: x -> z = f_enc(x) -> x' = f_dec(z), trained on reconstruction."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from vaekit.distributions import Likelihood, PointMass
from vaekit.models.base import LatentModel
from vaekit.models.networks import LikelihoodHead, mlp

if TYPE_CHECKING:
    from vaekit.models import ModelConfig


class Autoencoder(LatentModel):
    """MLP encoder to a code, MLP decoder to a likelihood (Gaussian = MSE, Bernoulli = BCE).

    With ``hidden=(256,)``, ``latent_dim=32``, ``latent_activation='relu'``, a Gaussian likelihood
    and a sigmoid output on 28x28 data this is exactly the seed's ``Autoencoder``.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        d_x = math.prod(config.input_shape)
        self.latent_dim = config.latent_dim
        final = None if config.latent_activation == "none" else config.latent_activation
        self.encoder = mlp([d_x, *config.hidden, config.latent_dim], config.activation, final_activation=final)
        self.decoder = mlp([config.latent_dim, *reversed(config.hidden), d_x], config.activation)
        self.head = LikelihoodHead(config.likelihood, config.input_shape, config.output_activation, config.gaussian_std, config.learn_variance)

    def encode(self, x: torch.Tensor) -> PointMass:
        return PointMass(self.encoder(x.flatten(1)))  # (B, D)

    def decode(self, z: torch.Tensor) -> Likelihood:
        return self.head(self.decoder(z))  # (..., C, H, W)
