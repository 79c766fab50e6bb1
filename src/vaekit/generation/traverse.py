"""Latent traversals: vary one dimension at a time, the most informative dimensions first."""

from __future__ import annotations

import torch

from vaekit.data import InMemoryDataset
from vaekit.models import LatentModel


@torch.no_grad()
def kl_order(model: LatentModel, data: InMemoryDataset, batch_size: int = 1000) -> list[int]:
    """Latent dimensions sorted by their mean KL(q(z_d|x) || N(0, 1)) over ``data``, largest first.

    Dimensions the model does not use (KL near 0, posterior collapse) come last. Autoencoders have
    no KL; their dimensions are sorted by the variance of the code instead.
    """
    model.eval()
    sums = None
    codes = []
    for start in range(0, len(data), batch_size):
        q = model.encode(data.batch(slice(start, start + batch_size)))
        if hasattr(q, "kl_per_dim"):
            part = q.kl_per_dim().sum(0)  # (D,)
            sums = part if sums is None else sums + part
        else:
            codes.append(q.mode())
    score = sums if sums is not None else torch.cat(codes).var(0)
    return torch.argsort(score, descending=True).tolist()


@torch.no_grad()
def traverse(model: LatentModel, dims: list[int], span: float = 3.0, steps: int = 9, x: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """One row per dimension in ``dims``: that dimension set to ``steps`` values in [-span, span].

    The other dimensions stay at the posterior mean of x (1, C, H, W), or at 0 (the prior's mean).

    Returns:
        (len(dims) * steps, C, H, W), row by row.
    """
    base = model.encode(x).mode()[0] if x is not None else torch.zeros(model.latent_dim, device=next(model.parameters()).device)  # (D,)
    values = torch.linspace(-span, span, steps, device=base.device)  # (S,)
    rows = []
    for d in dims:
        z = base.repeat(steps, 1)  # (S, D)
        z[:, d] = values
        rows.append(z)
    return model.decode(torch.cat(rows)).mean
