"""Statically binarized MNIST of Larochelle & Murray (2011): fixed 50k / 10k / 10k splits."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from vaekit.data.raw import RawSplits, Split
from vaekit.data.sources import find_files
from vaekit.errors import DataError

FILENAME = "binarized_mnist.npz"
SPLITS = {"train": 50_000, "valid": 10_000, "test": 10_000}


def _check(path: Path, key: str, a: np.ndarray) -> np.ndarray:
    if a.ndim != 2 or a.shape[1] != 784:
        raise DataError(f"{path}: array '{key}' has shape {a.shape}, expected (N, 784) rows of 28x28 pixels")
    if not np.isin(np.unique(a), (0, 1)).all():
        raise DataError(f"{path}: array '{key}' holds values other than 0 and 1; this is not the binarized MNIST file")
    return a.astype(np.uint8).reshape(-1, 1, 28, 28)


def load_binarized_mnist(data_dir: Path | None = None) -> RawSplits:
    """Load ``binarized_mnist.npz`` (keys train / valid / test, uint8 rows in {0, 1}); no labels."""
    paths = find_files("binarized-mnist", [FILENAME], data_dir)
    if paths is None:
        raise DataError(
            f"{FILENAME} not found (looked in --data-dir, $VAEKIT_DATA/binarized_mnist/ and the cache); "
            "put the file there or pass --data-dir DIR"
        )
    path = paths[0]
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = set(SPLITS) - set(npz.files)
            if missing:
                raise DataError(f"{path}: missing array(s) {sorted(missing)}; expected keys train, valid, test")
            arrays = {k: _check(path, k, npz[k]) for k in SPLITS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{path}: cannot read ({type(e).__name__}: {e}); the file is corrupt or truncated, replace it") from None
    return RawSplits(
        train=Split(arrays["train"]),
        valid=Split(arrays["valid"]),
        test=Split(arrays["test"]),
        scale=1.0,
        location=str(path),
    )
