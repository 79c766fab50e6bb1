"""What a loader returns before vaekit splits, limits and moves it to tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Arrays = tuple[np.ndarray, np.ndarray | None]  # images (N, C, H, W), labels (N,) or None


@dataclass(frozen=True)
class RawSplits:
    """Arrays straight from the files.

    Attributes:
        train: training images and labels; the validation split is carved from its end unless
            ``valid`` is given.
        test: the fixed test split.
        valid: a validation split fixed by the source (binarized MNIST), else None.
        scale: divisor mapping the images to [0, 1].
        location: where the data came from, for messages.
    """

    train: Arrays
    test: Arrays
    scale: float
    location: str
    valid: Arrays | None = None
