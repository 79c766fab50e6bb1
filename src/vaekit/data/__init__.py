"""Datasets: every loader returns the same ``DatasetSplits`` of ``InMemoryDataset``.

``config.py`` says which data, ``registry.py`` names the loaders, ``load.py`` splits and limits.
"""

from vaekit.data.base import DatasetSplits, InMemoryDataset
from vaekit.data.config import DataConfig
from vaekit.data.load import load_dataset
from vaekit.data.registry import DATASETS, PREFIXES, DatasetInfo, dataset_info, prefixed_names

__all__ = [
    "DATASETS",
    "PREFIXES",
    "DataConfig",
    "DatasetInfo",
    "DatasetSplits",
    "InMemoryDataset",
    "dataset_info",
    "load_dataset",
    "prefixed_names",
]
