"""Which data a run trains and evaluates on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from vaekit.data.facegen import MAX_SIZE as FACES_MAX
from vaekit.data.facegen import MIN_SIZE as FACES_MIN
from vaekit.data.facegen import parse_spec as faces_spec
from vaekit.data.registry import DATASETS, is_known, prefixed_names
from vaekit.data.shapes import parse_spec
from vaekit.errors import ConfigError
from vaekit.runtime.checks import check_fields

MAX_IMAGE_SIZE = 1024


@dataclass(frozen=True)
class DataConfig:
    """Which data to train and evaluate on."""

    name: Annotated[str, tyro.conf.arg(name="data")] = "digits"
    """Dataset: digits (embedded), mnist, fashion-mnist, binarized-mnist, frey-faces, olivetti-faces, shapes and faces (generated;
    shapes:N[:SEED] and faces:N[:SEED] for a random sample), fonts (matplotlib's), pbmc68k (real single-cell counts from
    scanpy's wheel), npz:PATH, npy:PATH, folder:PATH, csv:PATH, parquet:PATH, h5ad:PATH."""
    data_dir: Path | None = None
    """Directory holding the dataset's files (searched before $VAEKIT_DATA and the cache)."""
    limit: int | None = None
    """Use only the first N training examples (quick runs)."""
    valid_size: int | None = None
    """Examples held out from the end of the training file for validation (default per dataset)."""
    binarize: Literal["none", "dynamic"] = "none"
    """'dynamic' resamples Bernoulli(x) every batch; valid/test are binarized once with a fixed seed."""
    image_size: int | None = None
    """Side of the images: folder (default 64) centre-crops and resizes to it; faces (default 64, 32 to 256) and fonts
    (default 32, 16 to 128) are drawn at it."""
    channels: Literal[1, 3] = 3
    """folder and faces: 1 (grey) or 3 (RGB) channels."""
    attributes: Path | None = None
    """folder: CSV of per-image attributes (file name, then 0/1 or -1/1 columns, as CelebA's)."""
    label_column: str | None = None
    """csv, parquet: the column holding class labels (the rest of the numeric columns are features); h5ad: the obs column."""
    impute: Literal["none", "mean"] = "none"
    """csv, parquet: missing values are an error (none), or filled with each column's mean over the training rows."""

    def __post_init__(self) -> None:
        check_fields(self)
        prefix = self.name.partition(":")[0]
        if not is_known(self.name):
            names = ", ".join([*DATASETS, *prefixed_names()])
            raise ConfigError(f"unknown dataset '{self.name}'; choose one of: {names}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {self.limit}")
        if self.valid_size is not None and self.valid_size < 0:
            raise ConfigError(f"--valid-size must be 0 or more, got {self.valid_size}")
        if self.name in ("binarized-mnist", "olivetti-faces") and self.valid_size is not None:
            raise ConfigError(f"{self.name} has a fixed validation split; drop --valid-size")
        if self.image_size is not None and not 4 <= self.image_size <= MAX_IMAGE_SIZE:
            raise ConfigError(f"--image-size must be between 4 and {MAX_IMAGE_SIZE}, got {self.image_size}")
        if prefix == "shapes":
            parse_spec(self.name)  # a malformed shapes:N:SEED fails before anything is loaded
        if prefix == "faces":
            faces_spec(self.name)
            if self.image_size is not None and not FACES_MIN <= self.image_size <= FACES_MAX:
                raise ConfigError(f"faces are drawn at --image-size {FACES_MIN} to {FACES_MAX}, got {self.image_size}")
        if self.attributes is not None and prefix != "folder":
            raise ConfigError("--attributes goes with --data folder:PATH")
        if self.label_column is not None and prefix not in ("csv", "parquet", "h5ad"):
            raise ConfigError("--label-column goes with --data csv:PATH, parquet:PATH or h5ad:PATH")
        if self.impute != "none" and prefix not in ("csv", "parquet"):
            raise ConfigError("--impute goes with --data csv:PATH or parquet:PATH")
