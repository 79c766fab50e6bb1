"""An adversarial term for any family: a PatchGAN discriminator on reconstructions and samples.

``--adversarial patch`` adds to the family's own loss the hinge generator loss of a PatchGAN
discriminator (Isola et al. 2017), as VQGAN does (Esser et al. 2021, eq. 7), on the model's
reconstructions and, for families with a prior, on decoded prior samples (Larsen et al. 2016's
VAE-GAN). Its weight is adaptive: lambda = |grad_W L| / (|grad_W L_G| + 1e-4) at the decoder's last
layer W, times ``--adversarial-weight``, so the term pulls as hard as the family's loss does at
that layer whatever the scale of the likelihood (nats summed over 784 or 12,288 values). The
discriminator is a ``Critic``: the trainer's second optimizer trains it on the hinge loss after
each model step, and it travels in the training state, so resume stays bitwise exact.

What the model is then trained on is no longer its ELBO: ``evaluate`` says so (``trained_on``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from vaekit.errors import ConfigError
from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.critics import Critic
from vaekit.types import LossTerms, ModelOutput, Step

ADAPTIVE_EPS, ADAPTIVE_MAX = 1e-4, 1e4  # VQGAN's guard and clamp of the adaptive weight
MIN_SIDE = 8  # the smallest image side the discriminator's stride-2 layers and 4x4 heads fit


def patch_layers(height: int, width: int) -> int:
    """Stride-2 layers of the discriminator for images of this size: 3 (the PatchGAN's) from 32
    pixels up, fewer for smaller images, so the map before the two 4x4 heads keeps a side of 4 or more."""
    return max(1, min(3, int(math.log2(min(height, width) / 4))))


def check_adversarial(shape: tuple[int, ...]) -> None:
    """Raise unless examples of ``shape`` are images the discriminator can look at."""
    if len(shape) != 3 or min(shape[1:]) < MIN_SIDE:
        raise ConfigError(
            f"--adversarial patch needs images with both sides of {MIN_SIDE} pixels or more (a PatchGAN looks at image "
            f"patches), but the data's examples have shape {tuple(shape)}; drop --adversarial for tabular data"
        )


class PatchDiscriminator(Critic):
    """A PatchGAN discriminator: a logit per overlapping image patch, (B, 1, h, w).

    4x4 convolutions, stride 2 then 1, leaky ReLU 0.2, as in pix2pix and VQGAN (3 stride-2 layers,
    channels ``hidden`` x 1, 2, 4, 8), narrower by default (16 rather than 64): at 64x64 it then costs
    23 ms per forward pass of 64 images on one core of this CPU, 67 ms at 32 wide. Each layer
    after the first is normalised per example (GroupNorm, not BatchNorm), so an example's score is
    its own whatever else is in the batch and processes under torchrun need no shared statistics.
    Pixels in [0, 1] are moved to [-1, 1] first.
    """

    def __init__(self, channels: int, height: int, width: int, hidden: int = 16, lr: float = 1e-4, betas: tuple[float, float] = (0.5, 0.9)):
        super().__init__()
        self.lr, self.betas = lr, betas
        layers: list[nn.Module] = [nn.Conv2d(channels, hidden, 4, 2, 1), nn.LeakyReLU(0.2)]
        n_in = hidden
        strided = patch_layers(height, width)
        for i in range(1, strided + 1):
            n_out = hidden * min(2**i, 8)
            stride = 2 if i < strided else 1
            layers += [nn.Conv2d(n_in, n_out, 4, stride, 1, bias=False), nn.GroupNorm(min(8, n_out), n_out), nn.LeakyReLU(0.2)]
            n_in = n_out
        self.net = nn.Sequential(*layers, nn.Conv2d(n_in, 1, 4, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2 - 1)  # (B, 1, h, w)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """The mean patch logit of each image, (B,): high for images it takes as real."""
        return self(images).flatten(1).mean(1)  # (B,)

    def hinge(self, real: torch.Tensor, fakes: list[torch.Tensor]) -> torch.Tensor:
        """The discriminator's hinge loss (Lim & Ye 2017; VQGAN), per example (B,):
        (mean relu(1 - D(x)) + mean over the fakes of mean relu(1 + D(fake))) / 2."""
        loss_real = F.relu(1 - self(real)).flatten(1).mean(1)  # (B,)
        loss_fake = torch.stack([F.relu(1 + self(f)).flatten(1).mean(1) for f in fakes]).mean(0)  # (B,)
        return (loss_real + loss_fake) / 2

    def critic_loss(self, output: ModelOutput, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        with torch.no_grad():  # a mean the likelihood holds (a Gaussian's) is still in the graph: detach it too
            fakes = [f.detach() for f in generated_images(output)]  # (B, C, H, W) each
        return self.hinge(x, fakes)


def generated_images(output: ModelOutput) -> list[torch.Tensor]:
    """What the discriminator is shown as fake: the reconstructions' means (the first posterior
    sample's when K are decoded), and the decoded prior samples when the forward pass drew them."""
    mean = output.likelihood.mean  # (B, C, H, W) or (K, B, C, H, W)
    fakes = [mean[0] if mean.dim() == 5 else mean]
    if output.prior_sample is not None and output.decode is not None:
        fakes.append(output.decode(output.prior_sample).mean)  # (B, C, H, W)
    return fakes


class CriticPair(Critic):
    """Two critics trained as one (FactorVAE's discriminator and the image discriminator): their
    losses add, and one Adam steps both (they share the learning rate and betas)."""

    def __init__(self, first: Critic, second: Critic):
        super().__init__()
        if (first.lr, first.betas) != (second.lr, second.betas):
            raise ValueError("the two critics must share their learning rate and betas to be stepped by one Adam")
        self.first, self.second = first, second
        self.lr, self.betas = first.lr, first.betas

    def critic_loss(self, output: ModelOutput, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.first.critic_loss(output, x, generator) + self.second.critic_loss(output, x, generator)


def adaptive_weight(loss: torch.Tensor, adversarial: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """VQGAN's lambda = |grad_W loss| / (|grad_W adversarial| + 1e-4), clamped to [0, 1e4], detached."""
    (g_loss,) = torch.autograd.grad(loss, layer, retain_graph=True)
    (g_adv,) = torch.autograd.grad(adversarial, layer, retain_graph=True)
    return (g_loss.norm() / (g_adv.norm() + ADAPTIVE_EPS)).clamp(0, ADAPTIVE_MAX).detach()


class AdversarialObjective:
    """A bound objective plus the adversarial term: ``f(output, x, step) -> LossTerms``.

    ``critic`` is the image discriminator (or a ``CriticPair`` with the family's own critic), which
    the trainer trains; ``layer`` is the decoder's last weight, where the adaptive weight is measured.
    Before ``--adversarial-start`` steps the term is off (the discriminator already learns).
    """

    needs_prior_sample = True  # the trainer asks the forward pass for decodable prior samples

    def __init__(self, base, config: ObjectiveConfig, discriminator: PatchDiscriminator, layer: torch.Tensor):
        self.__name__ = base.__name__
        self.base, self.config, self.discriminator, self.layer = base, config, discriminator, layer
        own = getattr(base, "critic", None)
        self.critic = discriminator if own is None else CriticPair(own, discriminator)

    def __call__(self, output: ModelOutput, x: torch.Tensor, step: Step | None = None) -> LossTerms:
        terms = self.base(output, x, step)
        if not torch.is_grad_enabled():  # validation: the family's own terms
            return terms
        scores = torch.stack([self.discriminator.score(f) for f in generated_images(output)]).mean(0)  # (B,)
        generator_loss = -scores  # (B,): VQGAN's L_G = -D(x_hat)
        on = step is None or step.step >= self.config.adversarial_start
        if not on or self.config.adversarial_weight == 0:
            return LossTerms(terms.loss, terms.reconstruction, terms.kl, terms.penalty, generator_loss.detach())
        weight = self.config.adversarial_weight * adaptive_weight(terms.loss.mean(), generator_loss.mean(), self.layer)
        return LossTerms(terms.loss + weight * generator_loss, terms.reconstruction, terms.kl, terms.penalty, generator_loss.detach())


def with_adversarial(objective, config: ObjectiveConfig, shape: tuple[int, ...], layer: torch.Tensor):
    """``objective`` with the adversarial term when ``--adversarial patch`` asks for it, else itself;
    ``shape`` is one example's, ``layer`` the decoder's last weight (``LatentModel.last_decoder_layer``).

    The discriminator's weights come from torch's global RNG: seed it first."""
    if config.adversarial == "none":
        return objective
    check_adversarial(shape)
    discriminator = PatchDiscriminator(shape[0], shape[1], shape[2], lr=config.critic_lr)
    return AdversarialObjective(objective, config, discriminator, layer)
