"""What every model offers: encode to q(z|x), decode to p(x|z), a forward pass, a prior."""

from __future__ import annotations

import abc
from collections.abc import Callable

import torch
from torch import nn

from vaekit.distributions import FlowPosterior, Likelihood, PointMass, Posterior, Prior
from vaekit.errors import ConfigError
from vaekit.types import ModelOutput


class LatentModel(nn.Module, abc.ABC):
    """Base class: subclasses implement ``encode`` and ``decode``; ``forward`` composes them."""

    latent_dim: int
    data_shape: tuple[int, ...]  # one example, (C, H, W) or (D_x,)
    samples: int = 1  # posterior samples decoded per example in forward (K of the IWAE bound)
    needs_input_grad: bool = False  # hand the objective an encoder input it can differentiate (contractive AE)
    conditioning: str | None = None  # 'label' or 'attributes' for conditional models: what the data must supply
    condition_dim: int = 0  # size of the condition vector (classes, or attributes)
    codebook_size: int = 0  # K of a vector-quantized latent (VQ-VAE); 0 for continuous latents
    draws_prior_sample: bool = False  # forward also draws z ~ p(z) for the objective (the MMD of WAE, InfoVAE)
    deterministic: bool = False  # the encoder gives a point (an autoencoder): no posterior density, no likelihood bound

    @abc.abstractmethod
    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> Posterior | PointMass:
        """q(z|x[, y]) for data (B, C, H, W) and, for conditional models, conditions (B, Y)."""

    @abc.abstractmethod
    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> Likelihood:
        """p(x|z[, y]) for latents (..., D); the distribution has shape (..., C, H, W)."""

    def prior(self, n: int, like: torch.Tensor | None = None) -> Prior:
        """p(z) for ``n`` examples (N(0, I), or a learned prior such as the VampPrior's mixture);
        autoencoders without a prior raise."""
        raise ConfigError(
            f"{type(self).__name__} has no prior to sample from; fit a density to its codes (vaekit fit-sampler RUN, "
            "then --sampler gmm), or train a --model vae to generate new data"
        )

    @property
    def has_prior(self) -> bool:
        return type(self).prior is not LatentModel.prior

    def optimizer_groups(self) -> list[dict]:
        """Adam's parameter groups: one for all parameters, unless the family weight-decays a part
        (the RAE's decoder)."""
        return [{"params": list(self.parameters())}]

    def last_decoder_layer(self) -> torch.Tensor:
        """The weight of the decoder's output layer, where --adversarial measures its adaptive weight."""
        weights = [p for p in self.decoder.parameters() if p.dim() > 1]
        return weights[-1]

    def after_step(
        self, output: ModelOutput, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor] | None:
        """Called by the trainer after each optimizer step (the VQ-VAE updates its codebook here).

        Args:
            reduce: sums a tensor over all training processes in place (under torchrun); batch
                statistics go through it so every process makes the same update.

        Returns:
            statistics to log beside the loss terms (per-example values (B,), averaged like them),
            or None.
        """
        return None

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The encoder's input during training: x itself, or a corrupted copy (denoising AE)."""
        return x

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, condition: torch.Tensor | None = None) -> ModelOutput:
        """Encode (a corrupted x while training a denoising AE), draw z with the reparameterization
        trick (the code itself for an AE), decode. With ``samples`` K > 1, z is (K, B, D).
        Conditional models take ``condition`` (B, Y) in both encoder and decoder."""
        x_in = self.corrupt(x, generator) if self.training else x  # (B, C, H, W)
        if self.needs_input_grad and torch.is_grad_enabled():
            x_in = x_in.detach().requires_grad_(True)
        posterior = self.encode(x_in, condition)  # (B, D)
        n = self.samples if self.samples > 1 else None
        log_q = None
        if isinstance(posterior, FlowPosterior):  # its density is known only at its own samples
            z, log_q = posterior.rsample_with_log_prob(generator, n)  # (B, D) or (K, B, D); (B,) or (K, B)
        else:
            z = posterior.rsample(generator, n)  # (B, D) or (K, B, D)
        given = x_in if self.needs_input_grad and x_in.requires_grad else None
        prior = self.prior(x.shape[0], like=x) if self.has_prior else None  # (B, D)
        drawn = prior.rsample(generator) if prior is not None and self.draws_prior_sample else None  # (B, D)
        return ModelOutput(
            posterior=posterior,
            z=z,
            likelihood=self.decode(z, condition),
            encoder_input=given,
            prior=prior,
            log_q=log_q,
            prior_sample=drawn,
            decode=lambda latent: self.decode(latent, condition),
        )
