"""Frozen dataclasses of named tensors passed between models, objectives and training.

Shape legend used in comments across vaekit:
    B   batch size
    C, H, W   image channels, height, width (the data shape; tabular data is (B, D_x))
    D   latent size
    K   importance samples (or Monte-Carlo samples) per example

Nothing here imports anything else of ours at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # annotations only: types imports nothing else of ours at run time
    from vaekit.distributions import Likelihood, PointMass, Posterior, Prior


@dataclass(frozen=True)
class Quantized:
    """A VQ-VAE's quantization of one batch.

    Attributes:
        z_e: encoder outputs before quantization, (B, M*d).
        codes: the chosen codebook index of each slot, (B, M).
        commitment: ||z_e - sg(z_q)||^2 of each example, (B,).
    """

    z_e: torch.Tensor
    codes: torch.Tensor
    commitment: torch.Tensor


@dataclass(frozen=True)
class ModelOutput:
    """What every model's ``forward`` returns.

    Attributes:
        posterior: q(z|x); a ``DiagonalGaussian`` for VAEs (a ``FlowPosterior`` with --flow), a
            ``PointMass`` for deterministic AEs.
        z: the latent used for decoding, (B, D) or (K, B, D): a reparameterized sample or the code itself.
        likelihood: p(x|z), a distribution over the data shape (B, C, H, W).
        encoder_input: what the encoder saw, (B, C, H, W), when a penalty needs its gradient
            (contractive AE: set with requires_grad while gradients are on); else None.
        quantized: the VQ-VAE's codes and commitment term; else None.
        prior: p(z) for the batch (N(0, I), or the VampPrior's mixture, in the autograd graph);
            None for models without a prior.
        log_q: log q(z|x) at ``z``, (B,) or (K, B), for posteriors whose density is known only at
            their own samples (flows); None when ``posterior.log_prob(z)`` gives it.
        log_p: log p(z) at ``z``, (B,) or (K, B), when the forward pass computed it anyway (a
            hierarchy's top-down pass); None when ``prior.log_prob(z)`` gives it.
        prior_sample: z ~ p(z), (B, D), for objectives that compare q(z) with p(z) by samples
            (the MMD of WAE and InfoVAE); else None.
        decode: the model's decoder z -> p(x|z) (with the batch's condition), for objectives that
            decode the samples again (PIWAE's detached second pass); None for models without one.
        kl_layers: the closed-form KL of each stochastic layer of a hierarchical VAE given the
            sampled layers above it, (B, L) or (K, B, L), bottom layer first; else None.
    """

    posterior: Posterior | PointMass
    z: torch.Tensor
    likelihood: Likelihood
    encoder_input: torch.Tensor | None = None
    quantized: Quantized | None = None
    prior: Prior | None = None
    log_q: torch.Tensor | None = None
    log_p: torch.Tensor | None = None
    prior_sample: torch.Tensor | None = None
    kl_layers: torch.Tensor | None = None
    decode: Callable[[torch.Tensor], Likelihood] | None = None


@dataclass(frozen=True)
class LossTerms:
    """Per-example terms of an objective, all in nats, shape (B,).

    Attributes:
        loss: the value the trainer minimises (its batch mean).
        reconstruction: -log p(x|z), the reconstruction negative log-likelihood.
        kl: KL(q(z|x) || p(z)), or None for models without a prior.
        penalty: a regulariser's value before its weight (sparsity...), or None.
        adversarial: the generator's hinge loss -D(x_hat) before its weight (--adversarial), or None.
    """

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor | None = None
    penalty: torch.Tensor | None = None
    adversarial: torch.Tensor | None = None

    def named(self) -> dict[str, torch.Tensor]:
        """The terms that exist, by name (for logging)."""
        terms = {
            "loss": self.loss,
            "reconstruction": self.reconstruction,
            "kl": self.kl,
            "penalty": self.penalty,
            "adversarial": self.adversarial,
        }
        return {k: v for k, v in terms.items() if v is not None}


@dataclass(frozen=True)
class Step:
    """Where training is, for objectives whose weights follow a schedule.

    Attributes:
        step: optimizer steps done so far.
        total: steps the whole run will take.
    """

    step: int
    total: int
