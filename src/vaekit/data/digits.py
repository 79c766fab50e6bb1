"""scikit-learn's bundled 8x8 digits (1797 images, values 0..16): the embedded default dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaekit.data.raw import RawSplits, Split

TEST_SIZE = 360  # the last 360 images (a fifth) are the fixed test split


def load_digits(data_dir: Path | None = None) -> RawSplits:
    """Load the digits that ship inside scikit-learn; needs no file and no download."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = bunch.images.astype(np.uint8)[:, None]  # (1797, 1, 8, 8), values 0..16
    y = bunch.target.astype(np.int64)  # (1797,)
    return RawSplits(
        train=Split(x[:-TEST_SIZE], y[:-TEST_SIZE]),
        test=Split(x[-TEST_SIZE:], y[-TEST_SIZE:]),
        scale=16.0,
        location="scikit-learn (bundled)",
    )
