"""What the latent-space commands take: dataset indices, image files and comma-separated lists,
each checked with a message that names the option."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from vaekit import run
from vaekit.data import InMemoryDataset
from vaekit.data.images import image_as_example
from vaekit.errors import ConfigError
from vaekit.generation import label_condition
from vaekit.models import LatentModel


def condition_of(
    model: LatentModel, split: InMemoryDataset | None, index: int | None, file: Path | None, label: int | None, name: str
) -> torch.Tensor | None:
    """The (1, Y) condition one input of a latent tool is encoded and decoded with: ``--label`` where
    given (label-conditioned models), else the dataset example's own; None for an unconditional
    model. An image file has no label or attributes of its own, so it needs ``--label``."""
    if label is not None:
        return label_condition(model, label)
    if model.conditioning is None:
        return None
    if index is None or file is not None:
        source = f"an image file (--{name}-file) has none" if file is not None else f"there is no --{name} example to take them from"
        if model.conditioning == "label":
            raise ConfigError(f"this model is conditioned on class labels and {source}: add --label L (the class to use)")
        raise ConfigError(f"this model is conditioned on attributes and {source}: use --{name} IDX, a dataset example")
    return split.condition(slice(index, index + 1), model.conditioning, model.condition_dim)  # (1, Y)


def example(run_dir: Path, split: InMemoryDataset | None, index: int | None, file: Path | None, name: str) -> torch.Tensor:
    """One input (1, C, H, W): example ``index`` of the split, or an image file resized to the model's input."""
    if (index is None) == (file is None):
        raise ConfigError(f"give exactly one of --{name} IDX (a dataset index) or --{name}-file IMAGE")
    if file is not None:
        shape = run.model_config(run_dir).input_shape
        return torch.from_numpy(image_as_example(Path(file), shape)).float()[None] / 255.0
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(split):
        raise ConfigError(f"--{name} {index} is out of range: the split has {len(split)} examples (0..{len(split) - 1})")
    return split.batch(slice(index, index + 1))


def ints(text: str | Sequence[int], name: str) -> list[int]:
    """``0,3,5`` (or a list of ints) as a list of integers."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        values = [int(v) if isinstance(v, str) else v for v in parts if not isinstance(v, str) or v.strip()]
    except ValueError:
        raise ConfigError(f"--{name} takes comma-separated integers, like 0,3,5; got '{text}'") from None
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise ConfigError(f"--{name} takes integers, like 0,3,5; got {text!r}")
    return values


def floats(text: str | Sequence[float], name: str) -> list[float]:
    """``-2,-1,0,1,2`` (or a list of numbers) as a list of finite floats."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        values = [float(v) for v in parts if not isinstance(v, str) or v.strip()]
    except (TypeError, ValueError):
        raise ConfigError(f"--{name} takes comma-separated numbers, like -2,-1,0,1,2; got '{text}'") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"--{name} takes finite numbers, like -2,-1,0,1,2; got '{text}'")
    return values
