"""Sampling a VQ-VAE: a prior fitted to the codes the encoder gives the training data.

The prior is a categorical distribution per slot (independent slots), fitted by counting with
add-one smoothing. It is simple but it is a real prior: codes are drawn as the data uses them, not
uniformly. An autoregressive prior over slots would give better samples.
"""

from __future__ import annotations

import torch

from vaekit.data import InMemoryDataset
from vaekit.models import LatentModel


@torch.no_grad()
def fit_code_prior(model: LatentModel, data: InMemoryDataset, batch_size: int = 1000) -> torch.Tensor:
    """Log-probabilities of each code in each slot over ``data``, (M, K)."""
    model.eval()
    counts = torch.ones(model.slots, model.codebook_size, device=data.x.device)  # (M, K) add-one smoothing
    for start in range(0, len(data), batch_size):
        codes = model(data.batch(slice(start, start + batch_size))).quantized.codes  # (B, M)
        counts.scatter_add_(1, codes.T, torch.ones_like(codes.T, dtype=counts.dtype))
    return torch.log(counts / counts.sum(-1, keepdim=True))


@torch.no_grad()
def sample_codes(log_prior: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n code vectors (n, M) drawn slot by slot from the prior (M, K)."""
    return torch.multinomial(log_prior.exp(), n, replacement=True, generator=generator).T  # (n, M)


@torch.no_grad()
def sample_vq(model: LatentModel, log_prior: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Decoded samples of the fitted code prior: the mean of p(x | z_q), (n, C, H, W)."""
    return model.decode(model.embed(sample_codes(log_prior, n, generator))).mean
