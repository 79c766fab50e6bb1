"""A prior for a VQ-VAE's codes, fitted to the codes the encoder gives the training data.

The prior is a categorical distribution per slot (independent slots), fitted by counting with
add-one smoothing. It is simple but it is a real prior: codes are drawn as the data uses them, not
uniformly. An autoregressive prior over slots would give better samples.
"""

from __future__ import annotations

import torch

from vaekit.data import InMemoryDataset
from vaekit.errors import ConfigError
from vaekit.generation.encode import encode_split
from vaekit.models import LatentModel


@torch.no_grad()
def fit_code_prior(model: LatentModel, data: InMemoryDataset, batch_size: int = 1000) -> torch.Tensor:
    """Log-probabilities of each code in each slot over ``data``, (M, K)."""
    if not model.codebook_size:
        raise ConfigError("a code prior is fitted to a VQ-VAE's codes; this model has continuous latents (sample its prior instead)")
    codes = encode_split(model, data, batch_size).codes  # (N, M)
    counts = torch.ones(model.slots, model.codebook_size, device=data.x.device)  # (M, K) add-one smoothing
    counts.scatter_add_(1, codes.T, torch.ones_like(codes.T, dtype=counts.dtype))
    return torch.log(counts / counts.sum(-1, keepdim=True))


@torch.no_grad()
def sample_codes(log_prior: torch.Tensor, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
    """n code vectors (n, M) drawn slot by slot from the prior (M, K); ``temperature`` sharpens (< 1)
    or flattens (> 1) it, and 0 takes each slot's most frequent code."""
    if temperature == 0:
        return log_prior.argmax(-1).expand(n, -1)  # (n, M)
    probs = log_prior.exp() if temperature == 1 else torch.softmax(log_prior / temperature, dim=-1)  # (M, K)
    return torch.multinomial(probs, n, replacement=True, generator=generator).T  # (n, M)
