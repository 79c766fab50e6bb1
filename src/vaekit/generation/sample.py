"""Generate new data from the prior, and reconstruct data through the model."""

from __future__ import annotations

import torch

from vaekit.errors import ConfigError
from vaekit.models import LatentModel


@torch.no_grad()
def sample(model: LatentModel, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
           condition: torch.Tensor | None = None) -> torch.Tensor:
    """Decode z ~ N(0, temperature^2 I): the mean of p(x|z[, y]) for each, (n, C, H, W).

    A conditional model needs ``condition`` (n, Y), e.g. ``one_hot_labels``.

    The mean (pixel probabilities for a Bernoulli decoder) is what papers show as 'samples';
    drawing from p(x|z) as well only adds pixel noise.
    """
    prior = model.prior(n)  # (n, D)
    z = prior.mu + temperature * prior.std * torch.randn(prior.mu.shape, generator=generator, device=prior.mu.device)  # (n, D)
    return model.decode(z, condition).mean


@torch.no_grad()
def reconstruct(model: LatentModel, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
    """Decode the posterior mode of x: the mean of p(x | z = mode of q(z|x)), (B, C, H, W)."""
    return model.decode(model.encode(x, condition).mode(), condition).mean


def one_hot_labels(labels: torch.Tensor | list[int], classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Conditions for a label-conditioned model, (n, classes)."""
    labels = torch.as_tensor(labels, device=device)
    if (labels < 0).any() or (labels >= classes).any():
        raise ConfigError(f"labels must be in 0..{classes - 1} for this model, got {labels.unique().tolist()}")
    return torch.nn.functional.one_hot(labels, classes).to(torch.float32)  # (n, classes)


def interleave_rows(originals: torch.Tensor, reconstructions: torch.Tensor, nrow: int) -> torch.Tensor:
    """Stack rows so each row of originals sits above the row of its reconstructions, (2B, C, H, W)."""
    chunks = []
    for start in range(0, originals.shape[0], nrow):
        pair = originals[start:start + nrow], reconstructions[start:start + nrow]
        blank = torch.ones(nrow - pair[0].shape[0], *originals.shape[1:], device=originals.device)  # pads a short last row
        chunks += [torch.cat([pair[0], blank]), torch.cat([pair[1], blank])]
    return torch.cat(chunks)
