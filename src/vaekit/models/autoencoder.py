"""The deterministic autoencoder: x -> z = f_enc(x) -> x' = f_dec(z), trained on reconstruction."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from vaekit.distributions import DiagonalGaussian, Likelihood, PointMass
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

    deterministic = True

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


class WassersteinAutoencoder(Autoencoder):
    """WAE-MMD (Tolstikhin et al. 2018): a deterministic encoder whose codes' distribution is pulled
    to the N(0, I) prior by an MMD penalty, so decoding prior samples generates data. The forward
    pass draws the prior samples the objective compares the codes with."""

    draws_prior_sample = True

    def prior(self, n: int, like: torch.Tensor | None = None) -> DiagonalGaussian:
        like = next(self.parameters()) if like is None else like
        return DiagonalGaussian.standard(n, self.latent_dim, like)  # (n, D)


class RegularizedAutoencoder(Autoencoder):
    """RAE (Ghosh et al. 2020): a deterministic autoencoder with a penalty on the code's norm and a
    smooth decoder: an L2 penalty on the decoder's weights (RAE-L2, ``decoder_l2``, as Adam's
    coupled weight decay: exactly a (λ/2)|θ|^2 term in the loss) and/or a gradient penalty in the
    objective (RAE-GP). It generates through a density fitted to its codes afterwards."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.decoder_l2 = config.decoder_l2

    def optimizer_groups(self) -> list[dict]:
        decoder = [*self.decoder.parameters(), *self.head.parameters()]
        chosen = {id(p) for p in decoder}
        rest = [p for p in self.parameters() if id(p) not in chosen]
        return [{"params": rest}, {"params": decoder, "weight_decay": self.decoder_l2}]
