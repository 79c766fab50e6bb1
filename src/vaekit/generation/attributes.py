"""Attribute vectors (White 2016; the seed's 'smiling minus frowning'): the mean posterior mean of
examples with an attribute minus that of examples without it, added to other inputs to edit them.

A mean difference also carries whatever else tells the two groups apart in the code, and moves the
features other attributes are read from (a smile that also opens the mouth). A *conditional* vector
(Shen et al. 2020, InterFaceGAN's conditional manipulation) removes from it the directions in which
linear read-outs of the other attributes change, so that an edit along it leaves them, to first
order, where they were."""

from __future__ import annotations

import math

import torch

from vaekit.data import DatasetSplits, InMemoryDataset
from vaekit.errors import ConfigError
from vaekit.generation.draw import need_conditions
from vaekit.models import LatentModel
from vaekit.runtime import memory
from vaekit.runtime.checks import finite


def select(data: DatasetSplits, split: InMemoryDataset, spec: str) -> torch.Tensor:
    """Boolean mask (N,) of the examples that match ``spec``.

    ``label=7`` (class index, or a folder's class name), ``NAME`` or ``NAME=1`` for an attribute of
    the attribute file, ``NAME=0`` for its absence.
    """
    key, _, value = spec.partition("=")
    key = key.strip()
    if key == "label":
        if split.labels is None:
            raise ConfigError(f"'{spec}': this dataset has no labels; select by an attribute instead")
        classes = list(data.classes or [])
        index = classes.index(value) if value in classes else _int(value, spec)
        return split.labels == index
    names = [n.lower() for n in (data.attribute_names or ())]
    if key.lower() not in names:
        known = ", ".join(data.attribute_names or ()) or "none (use --data folder:PATH --attributes FILE.csv)"
        raise ConfigError(f"unknown attribute '{key}'; use label=K or one of the attributes: {known}")
    wanted = _int(value, spec) if value else 1
    return split.attributes[:, names.index(key.lower())] == wanted


def _int(value: str, spec: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"'{spec}': expected an integer after '='") from None


def attribute_vector(means: torch.Tensor, with_attribute: torch.Tensor, against: torch.Tensor | None = None) -> torch.Tensor:
    """mean(z | attribute) - mean(z | against, or not attribute): means (N, D), masks (N,) -> (D,)."""
    other = ~with_attribute if against is None else against
    if not with_attribute.any() or not other.any():
        raise ConfigError(
            f"an attribute vector needs examples on both sides; found {int(with_attribute.sum())} with and {int(other.sum())} without"
        )
    return means[with_attribute].mean(0) - means[other].mean(0)


def conditional_vector(vector: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
    """``vector`` (D,) without its component in the span of ``held`` (M, D), the read-out weights of the
    attributes an edit should leave alone (Shen et al. 2020, eq. 4, for M directions at once)."""
    if held.dim() != 2 or held.shape[1] != vector.shape[0]:
        raise ConfigError(f"held directions must be (M, {vector.shape[0]}), got {tuple(held.shape)}")
    if len(held) == 0:
        return vector
    u, s, _ = torch.linalg.svd(held.double().T.cpu(), full_matrices=False)  # (D, M), (M,)
    basis = u[:, s > s.max() * 1e-9]  # an orthonormal basis of their span (dependent directions dropped)
    v = vector.double().cpu()  # (D,)
    kept = v - basis @ (basis.T @ v)  # (D,)
    if kept.norm() <= 1e-6 * v.norm():
        raise ConfigError(
            f"holding {len(held)} attributes fixed leaves no direction of the {vector.shape[0]} latents to edit along; hold fewer"
        )
    return kept.to(vector.dtype).to(vector.device)


@torch.no_grad()
def apply_attribute(
    model: LatentModel,
    x: torch.Tensor,
    vector: torch.Tensor,
    strengths: list[float],
    generator: torch.Generator | None = None,
    condition: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each input x (B, C, H, W) decoded with ``s * vector`` added to its code, for every strength.

    A conditional model (cvae) encodes and decodes each input with its ``condition`` (B, Y).

    Deterministic (posterior means); ``generator`` is accepted like every tool's.

    Returns:
        (B * len(strengths), C, H, W): one row per input, one column per strength.
    """
    if not strengths:
        raise ConfigError("--strength needs at least one number, like -2,-1,0,1,2")
    for value in strengths:
        finite("strength", value)
    if vector.shape != (model.latent_dim,) or not bool(torch.isfinite(vector).all()):
        raise ConfigError(
            f"an attribute vector must hold {model.latent_dim} finite numbers (one per latent dimension), got shape {tuple(vector.shape)}"
        )
    memory.require(
        x.shape[0] * len(strengths) * math.prod(model.data_shape) * 4,
        f"{x.shape[0] * len(strengths):,} edited images",
        "give fewer --inputs or --strength values",
    )
    (condition,) = need_conditions(model, (condition,), x.shape[0])
    z = model.encode(x, condition).mode()  # (B, D)
    s = torch.tensor(strengths, device=z.device, dtype=z.dtype)  # (S,)
    edited = z[:, None, :] + s[None, :, None] * vector  # (B, S, D)
    y = None if condition is None else condition.repeat_interleave(len(strengths), 0)  # (B * S, Y), row by row
    return model.decode(edited.reshape(-1, z.shape[-1]), y).mean
