"""Learned parts of objectives: critics (discriminators) with parameters of their own.

A ``Critic`` is trained by the trainer's second optimizer, one step after each step of the model:
the model's loss reads the critic (frozen), then the critic minimises ``critic_loss`` on the same
batch's outputs, detached. The trainer knows only this interface, so the FactorVAE discriminator
here and a VAE-GAN's image discriminator share the same step, checkpoint and resume.
"""

from __future__ import annotations

import abc

import torch
from torch import nn
from torch.nn import functional as F

from vaekit.types import ModelOutput


class Critic(nn.Module, abc.ABC):
    """A module an objective reads, trained by its own Adam (``lr``, ``betas``)."""

    lr: float
    betas: tuple[float, float]

    @abc.abstractmethod
    def critic_loss(self, output: ModelOutput, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The critic's own per-example loss (B,) on the model's output for x, which it detaches."""


def permute_dims(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each latent dimension shuffled independently across the batch, (B, D).

    The rows are then samples of the product of the marginals prod_d q(z_d) (Kim & Mnih 2018, Alg. 1).
    """
    b, d = z.shape
    order = torch.argsort(torch.rand(b, d, generator=generator, device=z.device), dim=0)  # (B, D): a permutation per column
    return z.gather(0, order)  # (B, D)


class TCDiscriminator(Critic):
    """FactorVAE's discriminator (Kim & Mnih 2018): tells samples of q(z) from samples of prod_d q(z_d).

    An MLP of ``layers`` leaky-ReLU layers of ``hidden`` units to two logits (joint, product), the
    network of the paper's Table 6 and of disentanglement_lib (6 x 1000). With the optimal
    discriminator, logit_joint - logit_product = log q(z) / prod_d q(z_d), whose mean over q(z) is
    the total correlation (the density-ratio trick).
    """

    def __init__(self, latent_dim: int, hidden: int = 1000, layers: int = 6, lr: float = 1e-4, betas: tuple[float, float] = (0.5, 0.9)):
        super().__init__()
        self.lr, self.betas = lr, betas
        sizes = [latent_dim, *[hidden] * layers]
        body: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            body += [nn.Linear(n_in, n_out), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*body, nn.Linear(sizes[-1], 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, 2): logits of (joint, product)

    def total_correlation(self, z: torch.Tensor) -> torch.Tensor:
        """The density-ratio estimate of log q(z) - sum_d log q(z_d) at each code, (B,)."""
        logits = self(z)  # (B, 2)
        return logits[:, 0] - logits[:, 1]  # (B,)

    def critic_loss(self, output: ModelOutput, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Cross-entropy of telling the batch's codes (joint) from their dimension-wise shuffle (product).

        The shuffle permutes the same batch, as disentanglement_lib does; the paper draws a second batch.
        """
        z = (output.z if output.z.dim() == 2 else output.z[0]).detach()  # (B, D): one sample per example
        joint = torch.zeros(z.shape[0], dtype=torch.long, device=z.device)  # (B,)
        loss_joint = F.cross_entropy(self(z), joint, reduction="none")  # (B,)
        loss_product = F.cross_entropy(self(permute_dims(z, generator)), joint + 1, reduction="none")  # (B,)
        return loss_joint + loss_product  # (B,)
