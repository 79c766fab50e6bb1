"""The registered datasets: name -> loader, with each dataset's defaults.

``DATASETS`` are fixed names (``mnist``); ``PREFIXES`` name your own data or a generated sample
(``npz:PATH``, ``folder:PATH``, ``shapes:N[:SEED]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vaekit.data.arrays import load_arrays
from vaekit.data.binarized import load_binarized_mnist
from vaekit.data.digits import load_digits
from vaekit.data.facegen import load_faces
from vaekit.data.faces import load_frey_faces, load_olivetti_faces
from vaekit.data.folder import load_folder
from vaekit.data.fonts import load_fonts
from vaekit.data.mnist import load_fashion_mnist, load_mnist
from vaekit.data.pbmc import load_pbmc
from vaekit.data.raw import RawSplits
from vaekit.data.shapes import load_shapes
from vaekit.data.tables import load_h5ad, load_table

if TYPE_CHECKING:
    from vaekit.data.config import DataConfig


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: its loader and sensible defaults."""

    loader: Callable[[DataConfig], RawSplits]
    description: str
    default_valid_size: int | float  # a float is a fraction of the training file
    default_epochs: int
    image_size: int | None = None  # the default --image-size, where the source has one


def _from_dir(load: Callable[[Path | None], RawSplits]) -> Callable[[DataConfig], RawSplits]:
    return lambda config: load(config.data_dir)


def _path(config: DataConfig) -> Path:
    return Path(config.name.partition(":")[2])


def _faces(config: DataConfig) -> RawSplits:
    return load_faces(config.name, config.image_size, config.channels)


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(_from_dir(load_digits), "scikit-learn's bundled 8x8 digits (no download)", 180, 200),
    "mnist": DatasetInfo(_from_dir(load_mnist), "MNIST 28x28 grey-level digits", 10_000, 10),
    "fashion-mnist": DatasetInfo(_from_dir(load_fashion_mnist), "Fashion-MNIST 28x28 clothing", 10_000, 10),
    "binarized-mnist": DatasetInfo(_from_dir(load_binarized_mnist), "Larochelle & Murray's static binarization (50k/10k/10k)", 10_000, 10),
    "frey-faces": DatasetInfo(_from_dir(load_frey_faces), "Frey's 1965 face frames, 28x20 (Roweis's .mat)", 165, 200),
    "olivetti-faces": DatasetInfo(_from_dir(load_olivetti_faces), "Olivetti faces, 40 people x 10, 64x64 (Roweis's .mat)", 0, 300),
    "shapes": DatasetInfo(
        lambda c: load_shapes(c.name), "generated 64x64 dSprites-like sprites with 5 known factors (no download)", 0.1, 20
    ),
    "faces": DatasetInfo(
        _faces,
        "generated faces (20k) with 13 known factors and 9 attributes (smiling, ...), --image-size 32-256 (no download)",
        0.1,
        20,
        64,
    ),
    "fonts": DatasetInfo(
        lambda c: load_fonts(c.image_size),
        "62 characters in 21 of matplotlib's fonts; attributes bold, italic, serif, monospace",
        0,
        50,
        32,
    ),
    "pbmc68k": DatasetInfo(
        _from_dir(load_pbmc),
        "700 blood cells x 765 genes of real 10x counts, 10 cell types (the file inside scanpy's wheel: pip install --no-deps scanpy)",
        0.1,
        200,
    ),
}

PREFIXES: dict[str, DatasetInfo] = {
    "npz": DatasetInfo(lambda c: load_arrays(_path(c)), "an .npz file of named arrays", 0.1, 50),
    "npy": DatasetInfo(lambda c: load_arrays(_path(c)), "an .npy array", 0.1, 50),
    "folder": DatasetInfo(
        lambda c: load_folder(_path(c), c.image_size, c.channels, c.attributes),
        "a directory of images (labels from sub-folders)",
        0.1,
        50,
        64,
    ),
    "shapes": DatasetInfo(lambda c: load_shapes(c.name), "shapes:N[:SEED]: N sprites drawn from dSprites' factor grid", 0.1, 20),
    "faces": DatasetInfo(_faces, "faces:N[:SEED]: N generated faces drawn from SEED", 0.1, 20, 64),
    "csv": DatasetInfo(
        lambda c: load_table(_path(c), "csv", c.label_column, c.impute), "a table: numeric columns as features (pandas)", 0.1, 100
    ),
    "parquet": DatasetInfo(
        lambda c: load_table(_path(c), "parquet", c.label_column, c.impute), "a parquet table, as csv (pyarrow)", 0.1, 100
    ),
    "h5ad": DatasetInfo(lambda c: load_h5ad(_path(c), c.label_column), "an anndata .h5ad file: cells x genes counts in X", 0.1, 100),
}

PREFIX_ARGUMENT = {"shapes": "N[:SEED]", "faces": "N[:SEED]"}  # what follows the colon, where it is not a PATH


def prefixed_names() -> list[str]:
    """How the prefixed datasets are written: npz:PATH, ..., shapes:N[:SEED]."""
    return [f"{p}:{PREFIX_ARGUMENT.get(p, 'PATH')}" for p in PREFIXES]


def is_known(name: str) -> bool:
    prefix, colon, rest = name.partition(":")
    return name in DATASETS or bool(colon and rest and prefix in PREFIXES)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``; ``npz:PATH``, ``npy:PATH``, ``folder:PATH`` name your own data."""
    prefix, _, path = name.partition(":")
    if path and prefix in PREFIXES:
        return PREFIXES[prefix]
    return DATASETS[name]


def resolved(config: DataConfig) -> DataConfig:
    """``config`` with the dataset's defaults filled in where it leaves them unset (``--image-size``)."""
    from dataclasses import replace

    default = dataset_info(config.name).image_size
    return replace(config, image_size=default) if config.image_size is None and default is not None else config
