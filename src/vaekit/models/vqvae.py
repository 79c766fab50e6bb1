"""VQ-VAE (van den Oord et al. 2017): the latent vector is M slots, each snapped to the nearest of K
codebook vectors. The codebook follows an exponential moving average of the encoder outputs
assigned to it (their appendix A.1), so it has no gradient; the encoder learns through the
straight-through estimator and the commitment loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from vaekit.distributions import Likelihood, PointMass
from vaekit.models import networks
from vaekit.models.base import LatentModel
from vaekit.models.networks import LikelihoodHead
from vaekit.types import ModelOutput, Quantized

if TYPE_CHECKING:
    from vaekit.models.config import ModelConfig

EMA_EPS = 1e-5  # Laplace smoothing of the cluster sizes, so an unused code never divides by 0


class VQVAE(LatentModel):
    """Encoder to (B, M*d), nearest-codebook quantization per slot, decoder from the quantized vector."""

    deterministic = True

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.latent_dim = config.latent_dim
        self.data_shape = tuple(config.input_shape)
        self.code_dim = config.code_dim
        self.slots = config.latent_dim // config.code_dim
        self.codebook_size = config.codebook_size
        self.decay = config.ema_decay
        self.encoder = networks.encoder(config, config.latent_dim)
        self.decoder = networks.decoder(config)
        self.head = LikelihoodHead(
            config.likelihood, config.input_shape, config.output_activation, config.gaussian_std, config.learn_variance
        )
        codebook = torch.randn(config.codebook_size, config.code_dim)  # (K, d)
        self.register_buffer("codebook", codebook)
        self.register_buffer("ema_count", torch.ones(config.codebook_size))  # (K,)
        self.register_buffer("ema_sum", codebook.clone())  # (K, d)
        # Dead-code restarts (as in Dhariwal et al. 2020's Jukebox): steps since each code was last
        # chosen; saved only when restarts are on, so runs from before them load unchanged.
        self.dead_code_steps = config.dead_code_steps
        self.register_buffer("unused", torch.zeros(config.codebook_size), persistent=config.dead_code_steps > 0)  # (K,)

    def quantize(self, z_e: torch.Tensor) -> Quantized:
        """Nearest codebook vector for each slot of z_e (B, M*d)."""
        slots = z_e.view(-1, self.slots, self.code_dim)  # (B, M, d)
        distances = torch.cdist(slots.reshape(-1, self.code_dim), self.codebook)  # (B*M, K)
        codes = distances.argmin(-1).view(-1, self.slots)  # (B, M)
        z_q = self.embed(codes)  # (B, M*d)
        commitment = (z_e - z_q.detach()).pow(2).sum(-1)  # (B,)  ||z_e - sg(e)||^2
        return Quantized(z_e=z_e, codes=codes, commitment=commitment)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """Codebook vectors of codes (B, M), concatenated: (B, M*d)."""
        return self.codebook[codes].flatten(-2)

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> PointMass:
        """The quantized code, with the straight-through gradient to the encoder."""
        z_e = self.encoder(x)  # (B, M*d)
        z_q = self.embed(self.quantize(z_e).codes)  # (B, M*d)
        return PointMass(z_e + (z_q - z_e).detach())

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> Likelihood:
        return self.head(self.decoder(z))  # (..., C, H, W)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, condition: torch.Tensor | None = None) -> ModelOutput:
        z_e = self.encoder(x)  # (B, M*d)
        quantized = self.quantize(z_e)
        z = z_e + (self.embed(quantized.codes) - z_e).detach()  # straight-through: forward z_q, backward identity
        return ModelOutput(posterior=PointMass(z), z=z, likelihood=self.decode(z), quantized=quantized)

    @torch.no_grad()
    def after_step(self, output: ModelOutput, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """EMA codebook update from the batch's assignments (called by the trainer after each step),
        then the restart of codes unused for ``dead_code_steps`` steps. Returns the number of codes
        the step's batch used (logged as ``train_codes_used``)."""
        q = output.quantized
        flat = q.z_e.detach().view(-1, self.code_dim)  # (B*M, d)
        onehot = torch.nn.functional.one_hot(q.codes.reshape(-1), self.codebook_size).to(flat.dtype)  # (B*M, K)
        counts, sums = onehot.sum(0), onehot.T @ flat  # (K,), (K, d)
        if reduce is not None:  # every process's batch: the update of one step over all of them
            reduce(counts)
            reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + EMA_EPS) / (n + self.codebook_size * EMA_EPS) * n  # (K,)
        self.codebook.copy_(self.ema_sum / smoothed.unsqueeze(-1))
        used = counts > 0  # (K,)
        if self.dead_code_steps > 0:
            self._restart(flat, q.codes.reshape(-1), used, reduce)
        return {"codes_used": used.sum().to(flat.dtype).expand(q.codes.shape[0])}  # (B,): its batch mean is the count

    def _restart(
        self, flat: torch.Tensor, codes: torch.Tensor, used: torch.Tensor, reduce: Callable[[torch.Tensor], torch.Tensor] | None
    ) -> None:
        """Move every code unused for ``dead_code_steps`` steps onto one of the batch's encoder outputs,
        those its code fits worst first; no host sync (a where over all K), and under torchrun the
        candidates are averaged over the processes so every one makes the same move."""
        self.unused.add_(1).masked_fill_(used, 0)
        dead = (self.unused >= self.dead_code_steps).unsqueeze(-1)  # (K, 1)
        error = (flat - self.codebook[codes]).pow(2).sum(-1)  # (B*M,)
        worst = error.argsort(descending=True)  # (B*M,)
        candidates = flat[worst[torch.arange(self.codebook_size, device=flat.device) % len(worst)]].clone()  # (K, d)
        if reduce is not None:
            ranks = torch.ones(1, device=flat.device)
            reduce(candidates)
            reduce(ranks)
            candidates /= ranks
        self.codebook.copy_(torch.where(dead, candidates, self.codebook))
        self.ema_sum.copy_(torch.where(dead, candidates, self.ema_sum))  # a fresh code with a cluster of one
        self.ema_count.copy_(torch.where(dead[:, 0], torch.ones_like(self.ema_count), self.ema_count))
        self.unused.masked_fill_(dead[:, 0], 0)
