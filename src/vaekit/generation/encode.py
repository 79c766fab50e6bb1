"""Encoding a whole split, a chunk at a time: the one path every tool that needs codes goes through
(attribute vectors, latent maps, traversal order, the VQ code prior, ``vaekit encode``,
disentanglement scores)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaekit.data import InMemoryDataset
from vaekit.models import LatentModel
from vaekit.runtime.checks import at_least

CHUNK = 1000


@dataclass(frozen=True)
class Codes:
    """What the encoder says about every example of a split.

    Attributes:
        mu: posterior means (the code itself for an autoencoder, the quantized vector for a
            VQ-VAE), (N, D).
        logvar: posterior log-variances (N, D), for Gaussian posteriors; else None.
        codes: the codebook index of every slot (N, M), for a VQ-VAE; else None.
    """

    mu: torch.Tensor
    logvar: torch.Tensor | None = None
    codes: torch.Tensor | None = None


@torch.no_grad()
def encode_split(model: LatentModel, data: InMemoryDataset, batch_size: int = CHUNK) -> Codes:
    """Encode every example of ``data`` (with its condition, for a conditional model), ``batch_size``
    at a time; the model is put in eval mode (no corruption, no sampling)."""
    at_least("batch_size", batch_size, 1)
    model.eval()
    mu, logvar, codes = [], [], []
    for start in range(0, len(data), batch_size):
        index = slice(start, start + batch_size)
        x = data.batch(index)  # (B, C, H, W)
        y = data.condition(index, model.conditioning, model.condition_dim)  # (B, Y) or None
        if model.codebook_size:  # the forward pass also says which code each slot took
            output = model(x, None, y)
            posterior = output.posterior
            codes.append(output.quantized.codes)  # (B, M)
        else:
            posterior = model.encode(x, y)
        mu.append(posterior.mode())  # (B, D)
        if hasattr(posterior, "logvar"):
            logvar.append(posterior.logvar)  # (B, D)
    if not mu:
        empty = torch.zeros(0, model.latent_dim, device=data.x.device)
        return Codes(empty, empty.clone() if not model.deterministic else None, None)
    return Codes(torch.cat(mu), torch.cat(logvar) if logvar else None, torch.cat(codes) if codes else None)


def posterior_means(model: LatentModel, data: InMemoryDataset, batch_size: int = CHUNK) -> torch.Tensor:
    """The posterior mean (the code, for an AE) of every example, (N, D)."""
    return encode_split(model, data, batch_size).mu
