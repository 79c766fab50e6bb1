"""``load_dataset``: a registered dataset in memory, with its fixed train / validation / test splits."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from vaekit.data.base import DatasetSplits, InMemoryDataset
from vaekit.data.config import DataConfig
from vaekit.data.raw import RawSplits, Split
from vaekit.data.registry import dataset_info, resolved
from vaekit.errors import ConfigError, DataError

EVAL_BINARIZE_SEED = 0  # fixed binarization of valid/test under the dynamic protocol


def _tensors(split: Split, scale: float, dynamic: bool) -> InMemoryDataset:
    def tensor(a):
        if a is None:
            return None
        with warnings.catch_warnings():  # a read-only memory map: vaekit only gathers from it, never writes in place
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(np.ascontiguousarray(a))

    return InMemoryDataset(
        tensor(split.x),
        tensor(split.y),
        scale,
        dynamic_binarize=dynamic,
        attributes=tensor(split.attributes),
        factors=tensor(split.factors),
    )


def _split_train(raw: RawSplits, valid_size: int) -> tuple[Split, Split]:
    if raw.valid is not None:
        return raw.train, raw.valid
    if valid_size >= len(raw.train):
        raise ConfigError(f"--valid-size {valid_size} leaves no training data ({len(raw.train)} examples in all)")
    cut = len(raw.train) - valid_size
    return raw.train.take(slice(0, cut)), raw.train.take(slice(cut, None))


def load_dataset(config: DataConfig) -> DatasetSplits:
    """Load ``config.name`` into memory with fixed train / validation / test splits.

    Applies the fixed validation split, ``limit`` and binarization.

    Raises:
        DataError: the files are missing, corrupt or malformed (the message names the file).
        ConfigError: the options do not fit the dataset.
    """
    config = resolved(config)
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
    return DatasetSplits(
        config.name,
        splits["train"],
        splits["valid"],
        splits["test"],
        source=raw.location,
        classes=raw.classes,
        attribute_names=raw.attribute_names,
        notes=raw.notes,
        factor_names=raw.factor_names,
        factor_sizes=raw.factor_sizes,
    )
