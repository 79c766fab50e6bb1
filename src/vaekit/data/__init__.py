"""Named datasets. Every loader returns the same ``DatasetSplits`` of ``InMemoryDataset``.

``load_dataset(DataConfig(...))`` applies the fixed validation split, ``limit`` and binarization.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import tyro

from vaekit.data.arrays import load_arrays
from vaekit.data.base import DatasetSplits, InMemoryDataset
from vaekit.data.binarized import load_binarized_mnist
from vaekit.data.digits import load_digits
from vaekit.data.faces import load_frey_faces, load_olivetti_faces
from vaekit.data.mnist import load_fashion_mnist, load_mnist
from vaekit.data.folder import load_folder
from vaekit.data.shapes import load_shapes, parse_spec
from vaekit.data.raw import RawSplits, Split
from vaekit.errors import ConfigError, DataError

EVAL_BINARIZE_SEED = 0  # fixed binarization of valid/test under the dynamic protocol


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: its loader and sensible defaults."""

    loader: Callable[[DataConfig], RawSplits]
    description: str
    default_valid_size: int | float  # a float is a fraction of the training file
    default_epochs: int


def _from_dir(load: Callable[[Path | None], RawSplits]) -> Callable[[DataConfig], RawSplits]:
    return lambda config: load(config.data_dir)


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(_from_dir(load_digits), "scikit-learn's bundled 8x8 digits (no download)", 180, 200),
    "mnist": DatasetInfo(_from_dir(load_mnist), "MNIST 28x28 grey-level digits", 10_000, 10),
    "fashion-mnist": DatasetInfo(_from_dir(load_fashion_mnist), "Fashion-MNIST 28x28 clothing", 10_000, 10),
    "binarized-mnist": DatasetInfo(_from_dir(load_binarized_mnist), "Larochelle & Murray's static binarization (50k/10k/10k)", 10_000, 10),
    "frey-faces": DatasetInfo(_from_dir(load_frey_faces), "Frey's 1965 face frames, 28x20 (Roweis's .mat)", 165, 200),
    "olivetti-faces": DatasetInfo(_from_dir(load_olivetti_faces), "Olivetti faces, 40 people x 10, 64x64 (Roweis's .mat)", 0, 300),
    "shapes": DatasetInfo(lambda c: load_shapes(c.name), "generated 64x64 dSprites-like sprites with 5 known factors (no download)", 0.1, 20),
}

PREFIXES = {
    "npz": DatasetInfo(lambda c: load_arrays(Path(c.name.partition(":")[2])), "an .npz file of named arrays", 0.1, 50),
    "npy": DatasetInfo(lambda c: load_arrays(Path(c.name.partition(":")[2])), "an .npy array", 0.1, 50),
    "folder": DatasetInfo(lambda c: load_folder(Path(c.name.partition(":")[2]), c.image_size, c.channels, c.attributes),
                          "a directory of images (labels from sub-folders)", 0.1, 50),
    "shapes": DatasetInfo(lambda c: load_shapes(c.name), "shapes:N[:SEED]: N sprites drawn from dSprites' factor grid", 0.1, 20),
}

PREFIX_ARGUMENT = {"shapes": "N[:SEED]"}  # what follows the colon, where it is not a PATH


def prefixed_names() -> list[str]:
    """How the prefixed datasets are written: npz:PATH, ..., shapes:N[:SEED]."""
    return [f"{p}:{PREFIX_ARGUMENT.get(p, 'PATH')}" for p in PREFIXES]


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``; ``npz:PATH``, ``npy:PATH``, ``folder:PATH`` name your own data."""
    prefix, _, path = name.partition(":")
    if path and prefix in PREFIXES:
        return PREFIXES[prefix]
    return DATASETS[name]


@dataclass(frozen=True)
class DataConfig:
    """Which data to train and evaluate on."""

    name: Annotated[str, tyro.conf.arg(name="data")] = "digits"
    """Dataset: digits (embedded), mnist, fashion-mnist, binarized-mnist, frey-faces, olivetti-faces, shapes (generated; shapes:N[:SEED]
    for a random sample), npz:PATH, npy:PATH, folder:PATH."""
    data_dir: Path | None = None
    """Directory holding the dataset's files (searched before $VAEKIT_DATA and the cache)."""
    limit: int | None = None
    """Use only the first N training examples (quick runs)."""
    valid_size: int | None = None
    """Examples held out from the end of the training file for validation (default per dataset)."""
    binarize: Literal["none", "dynamic"] = "none"
    """'dynamic' resamples Bernoulli(x) every batch; valid/test are binarized once with a fixed seed."""
    image_size: int = 64
    """folder: images are centre-cropped to a square and resized to this side."""
    channels: Literal[1, 3] = 3
    """folder: 1 (grey) or 3 (RGB) channels."""
    attributes: Path | None = None
    """folder: CSV of per-image attributes (file name, then 0/1 or -1/1 columns, as CelebA's)."""

    def __post_init__(self) -> None:
        prefix, colon, path = self.name.partition(":")
        if self.name not in DATASETS and not (colon and path and prefix in PREFIXES):
            names = ", ".join([*DATASETS, *prefixed_names()])
            raise ConfigError(f"unknown dataset '{self.name}'; choose one of: {names}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {self.limit}")
        if self.valid_size is not None and self.valid_size < 0:
            raise ConfigError(f"--valid-size must be 0 or more, got {self.valid_size}")
        if self.name in ("binarized-mnist", "olivetti-faces") and self.valid_size is not None:
            raise ConfigError(f"{self.name} has a fixed validation split; drop --valid-size")
        if not 4 <= self.image_size <= 1024:
            raise ConfigError(f"--image-size must be between 4 and 1024, got {self.image_size}")
        if prefix == "shapes":
            parse_spec(self.name)  # a malformed shapes:N:SEED fails before anything is loaded
        if self.attributes is not None and prefix != "folder":
            raise ConfigError("--attributes goes with --data folder:PATH")


def _tensors(split: Split, scale: float, dynamic: bool) -> InMemoryDataset:
    def tensor(a):
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a))

    return InMemoryDataset(tensor(split.x), tensor(split.y), scale, dynamic_binarize=dynamic, attributes=tensor(split.attributes),
                           factors=tensor(split.factors))


def _split_train(raw: RawSplits, valid_size: int) -> tuple[Split, Split]:
    if raw.valid is not None:
        return raw.train, raw.valid
    if valid_size >= len(raw.train):
        raise ConfigError(f"--valid-size {valid_size} leaves no training data ({len(raw.train)} examples in all)")
    cut = len(raw.train) - valid_size
    return raw.train.take(slice(0, cut)), raw.train.take(slice(cut, None))


def load_dataset(config: DataConfig) -> DatasetSplits:
    """Load ``config.name`` into memory with fixed train / validation / test splits.

    Raises:
        DataError: the files are missing, corrupt or malformed (the message names the file).
        ConfigError: the options do not fit the dataset.
    """
    info = dataset_info(config.name)
    raw = info.loader(config)
    valid_size = info.default_valid_size if config.valid_size is None else config.valid_size
    if isinstance(valid_size, float):
        valid_size = max(1, int(valid_size * len(raw.train)))
    train, valid = _split_train(raw, valid_size)
    dynamic = config.binarize == "dynamic"
    splits = {}
    for name, split in (("train", train), ("valid", valid), ("test", raw.test)):
        ds = _tensors(split, raw.scale, dynamic and name == "train")
        splits[name] = ds.binarized_once(EVAL_BINARIZE_SEED) if dynamic and name != "train" else ds
    if config.limit is not None:
        splits["train"] = splits["train"].head(config.limit)
    if len(splits["train"]) == 0:
        raise DataError(f"dataset '{config.name}' from {raw.location} has no training examples")
    return DatasetSplits(config.name, splits["train"], splits["valid"], splits["test"], source=raw.location,
                         classes=raw.classes, attribute_names=raw.attribute_names, notes=raw.notes,
                         factor_names=raw.factor_names, factor_sizes=raw.factor_sizes)


__all__ = ["DATASETS", "DataConfig", "DatasetInfo", "DatasetSplits", "InMemoryDataset", "dataset_info", "load_dataset", "prefixed_names"]
