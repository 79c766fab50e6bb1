"""Latent traversals: vary one dimension at a time, the most informative dimensions first."""

from __future__ import annotations

import math

import torch

from vaekit.data import InMemoryDataset
from vaekit.distributions import DiagonalGaussian
from vaekit.errors import ConfigError
from vaekit.generation.draw import need_conditions
from vaekit.generation.encode import Codes, encode_split
from vaekit.models import LatentModel
from vaekit.runtime import memory
from vaekit.runtime.checks import at_least, in_range


@torch.no_grad()
def kl_order(model: LatentModel, data: InMemoryDataset, batch_size: int = 1000, codes: Codes | None = None) -> list[int]:
    """Latent dimensions sorted by their mean KL(q(z_d|x) || N(0, 1)) over ``data``, largest first.

    Dimensions the model does not use (KL near 0, posterior collapse) come last. Autoencoders, flow
    posteriors and learned priors (VampPrior) have no per-dimension KL to N(0, 1); their dimensions
    are sorted by the variance of the posterior means instead. ``codes``: ``data`` already encoded
    (``encode_split``), so a caller that needs them too encodes once.
    """
    codes = encode_split(model, data, batch_size) if codes is None else codes
    if codes.logvar is None or not isinstance(model.prior(1), DiagonalGaussian):
        return torch.argsort(codes.mu.var(0), descending=True).tolist()
    kl = DiagonalGaussian(codes.mu, codes.logvar).kl_per_dim()  # (N, D)
    score = sum(kl[s : s + batch_size].sum(0) for s in range(0, len(kl), batch_size))  # (D,) summed chunk by chunk, as before
    return torch.argsort(score, descending=True).tolist()


@torch.no_grad()
def traverse(
    model: LatentModel,
    dims: list[int],
    span: float = 3.0,
    steps: int = 9,
    x: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    condition: torch.Tensor | None = None,
) -> torch.Tensor:
    """One row per dimension in ``dims``: that dimension set to ``steps`` values in [-span, span].

    The other dimensions stay at the posterior mean of x (1, C, H, W), or at 0 (the prior's mean).
    A conditional model (cvae) encodes x and decodes every image with ``condition`` (1, Y).

    Returns:
        (len(dims) * steps, C, H, W), row by row.
    """
    in_range("range", span, 0)
    at_least("steps", steps, 1)
    bad = [d for d in dims if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < model.latent_dim]
    if bad or not dims:
        raise ConfigError(f"--dims {bad or dims} out of range: the latent has {model.latent_dim} dimensions (0..{model.latent_dim - 1})")
    memory.require(
        len(dims) * steps * math.prod(model.data_shape) * 4, f"a traversal of {len(dims)} x {steps:,} images", "use fewer --steps"
    )
    (condition,) = need_conditions(model, (condition,), 1)
    base = (
        model.encode(x, condition).mode()[0] if x is not None else torch.zeros(model.latent_dim, device=next(model.parameters()).device)
    )  # (D,)
    values = torch.linspace(-span, span, steps, device=base.device)  # (S,)
    rows = []
    for d in dims:
        z = base.repeat(steps, 1)  # (S, D)
        z[:, d] = values
        rows.append(z)
    z = torch.cat(rows)  # (len(dims) * S, D)
    return model.decode(z, None if condition is None else condition.expand(len(z), -1)).mean
