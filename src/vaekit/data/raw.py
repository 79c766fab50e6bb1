"""What a loader returns before vaekit splits, limits and moves it to tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """One split straight from the files.

    Attributes:
        x: examples, (N, C, H, W) images or (N, D) rows.
        y: integer class labels (N,), or None.
        attributes: binary attributes (N, A) in {0, 1} (CelebA-style), or None.
        factors: ground-truth generative factors (N, F) as integer indices (``shapes``), or None.
    """

    x: np.ndarray
    y: np.ndarray | None = None
    attributes: np.ndarray | None = None
    factors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: slice | np.ndarray) -> Split:
        def pick(a):
            return None if a is None else a[index]

        return Split(self.x[index], pick(self.y), pick(self.attributes), pick(self.factors))


@dataclass(frozen=True)
class RawSplits:
    """A dataset as loaded.

    Attributes:
        train: training split; the validation split is carved from its end unless ``valid`` is given.
        test: the fixed test split.
        scale: divisor mapping the images to [0, 1].
        location: where the data came from, for messages.
        valid: a validation split fixed by the source, else None.
        classes: names of the label values (folder names), or None.
        attribute_names: names of the attribute columns, or None.
        notes: things the user should know (files skipped...), printed by the CLI.
        factor_names: names of the ground-truth factor columns, or None.
        factor_sizes: number of values of each factor, or None.
    """

    train: Split
    test: Split
    scale: float
    location: str
    valid: Split | None = None
    classes: tuple[str, ...] | None = None
    attribute_names: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()
    factor_names: tuple[str, ...] | None = None
    factor_sizes: tuple[int, ...] | None = None
