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
from vaekit.data.raw import Arrays, RawSplits
from vaekit.errors import ConfigError, DataError

EVAL_BINARIZE_SEED = 0  # fixed binarization of valid/test under the dynamic protocol


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: its loader and sensible defaults."""

    loader: Callable[[Path | None], RawSplits]
    description: str
    default_valid_size: int | float  # a float is a fraction of the training file
    default_epochs: int


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(load_digits, "scikit-learn's bundled 8x8 digits (no download)", 180, 200),
    "mnist": DatasetInfo(load_mnist, "MNIST 28x28 grey-level digits", 10_000, 10),
    "fashion-mnist": DatasetInfo(load_fashion_mnist, "Fashion-MNIST 28x28 clothing", 10_000, 10),
    "binarized-mnist": DatasetInfo(load_binarized_mnist, "Larochelle & Murray's static binarization (50k/10k/10k)", 10_000, 10),
    "frey-faces": DatasetInfo(load_frey_faces, "Frey's 1965 face frames, 28x20 (Roweis's .mat)", 165, 200),
    "olivetti-faces": DatasetInfo(load_olivetti_faces, "Olivetti faces, 40 people x 10, 64x64 (Roweis's .mat)", 0, 300),
}


PREFIXES = {"npz": "an .npz file of named arrays", "npy": "an .npy array"}


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``; ``npz:PATH`` / ``npy:PATH`` name your own array files."""
    prefix, _, path = name.partition(":")
    if path and prefix in PREFIXES:
        return DatasetInfo(lambda data_dir: load_arrays(Path(path)), PREFIXES[prefix], 0.1, 50)
    return DATASETS[name]


@dataclass(frozen=True)
class DataConfig:
    """Which data to train and evaluate on."""

    name: Annotated[str, tyro.conf.arg(name="data")] = "digits"
    """Dataset: digits (embedded), mnist, fashion-mnist, binarized-mnist, frey-faces, olivetti-faces, npz:PATH, npy:PATH."""
    data_dir: Path | None = None
    """Directory holding the dataset's files (searched before $VAEKIT_DATA and the cache)."""
    limit: int | None = None
    """Use only the first N training examples (quick runs)."""
    valid_size: int | None = None
    """Examples held out from the end of the training file for validation (default per dataset)."""
    binarize: Literal["none", "dynamic"] = "none"
    """'dynamic' resamples Bernoulli(x) every batch; valid/test are binarized once with a fixed seed."""

    def __post_init__(self) -> None:
        prefix, colon, path = self.name.partition(":")
        if self.name not in DATASETS and not (colon and path and prefix in PREFIXES):
            names = ", ".join([*DATASETS, *(f"{p}:PATH" for p in PREFIXES)])
            raise ConfigError(f"unknown dataset '{self.name}'; choose one of: {names}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {self.limit}")
        if self.valid_size is not None and self.valid_size < 0:
            raise ConfigError(f"--valid-size must be 0 or more, got {self.valid_size}")
        if self.name in ("binarized-mnist", "olivetti-faces") and self.valid_size is not None:
            raise ConfigError(f"{self.name} has a fixed validation split; drop --valid-size")


def _tensors(arrays: Arrays) -> tuple[torch.Tensor, torch.Tensor | None]:
    x, y = arrays
    labels = None if y is None else torch.from_numpy(np.ascontiguousarray(y))
    return torch.from_numpy(np.ascontiguousarray(x)), labels


def _split_train(raw: RawSplits, valid_size: int) -> tuple[Arrays, Arrays]:
    if raw.valid is not None:
        return raw.train, raw.valid
    x, y = raw.train
    if valid_size >= len(x):
        raise ConfigError(f"--valid-size {valid_size} leaves no training data ({len(x)} examples in all)")
    cut = len(x) - valid_size
    return (x[:cut], None if y is None else y[:cut]), (x[cut:], None if y is None else y[cut:])


def load_dataset(config: DataConfig) -> DatasetSplits:
    """Load ``config.name`` into memory with fixed train / validation / test splits.

    Raises:
        DataError: the files are missing, corrupt or malformed (the message names the file).
        ConfigError: the options do not fit the dataset.
    """
    info = dataset_info(config.name)
    raw = info.loader(config.data_dir)
    valid_size = info.default_valid_size if config.valid_size is None else config.valid_size
    if isinstance(valid_size, float):
        valid_size = max(1, int(valid_size * len(raw.train[0])))
    train, valid = _split_train(raw, valid_size)
    dynamic = config.binarize == "dynamic"
    splits = {}
    for name, arrays in (("train", train), ("valid", valid), ("test", raw.test)):
        x, y = _tensors(arrays)
        ds = InMemoryDataset(x, y, raw.scale, dynamic_binarize=dynamic and name == "train")
        splits[name] = ds.binarized_once(EVAL_BINARIZE_SEED) if dynamic and name != "train" else ds
    if config.limit is not None:
        splits["train"] = splits["train"].head(config.limit)
    if len(splits["train"]) == 0:
        raise DataError(f"dataset '{config.name}' from {raw.location} has no training examples")
    return DatasetSplits(config.name, splits["train"], splits["valid"], splits["test"], source=raw.location)


__all__ = ["DATASETS", "DataConfig", "DatasetInfo", "DatasetSplits", "InMemoryDataset", "dataset_info", "load_dataset"]
