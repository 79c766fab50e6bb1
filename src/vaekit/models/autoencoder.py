"""The deterministic autoencoder: x -> z = f_enc(x) -> x' = f_dec(z), trained on reconstruction."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from vaekit.distributions import Likelihood, PointMass
from vaekit.models import networks
from vaekit.models.base import LatentModel
from vaekit.models.corruption import corrupt
from vaekit.models.networks import ACTIVATIONS, LikelihoodHead

if TYPE_CHECKING:
    from vaekit.models.config import ModelConfig


class Autoencoder(LatentModel):
    """Encoder to a code, decoder to a likelihood (Gaussian = MSE, Bernoulli = BCE).

    With ``hidden=(256,)``, ``latent_dim=32``, ``latent_activation='relu'``, a Gaussian likelihood
    and a sigmoid output on 28x28 data this is exactly the seed's ``Autoencoder`` (the code's ReLU
    has no parameters, so the state-dict keys are the seed's).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.latent_dim = config.latent_dim
        self.data_shape = tuple(config.input_shape)
        self.encoder = networks.encoder(config, config.latent_dim)
        self.code_activation = nn.Identity() if config.latent_activation == "none" else ACTIVATIONS[config.latent_activation]()
        self.decoder = networks.decoder(config)
        self.head = LikelihoodHead(
            config.likelihood, config.input_shape, config.output_activation, config.gaussian_std, config.learn_variance
        )

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> PointMass:
        return PointMass(self.code_activation(self.encoder(x, condition)))  # (B, D)

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> Likelihood:
        return self.head(self.decoder(networks.with_condition(z, condition)))  # (..., C, H, W)


class DenoisingAutoencoder(Autoencoder):
    """An autoencoder that sees a corrupted input while training and reconstructs the clean one
    (Vincent et al. 2008). At evaluation it encodes the input as it is."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.noise, self.noise_level = config.noise, config.noise_level

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return corrupt(x, self.noise, self.noise_level, generator)


class ContractiveAutoencoder(Autoencoder):
    """An autoencoder whose objective penalises the encoder's Jacobian (Rifai et al. 2011); the
    forward pass hands the objective a differentiable encoder input for that."""

    needs_input_grad = True
