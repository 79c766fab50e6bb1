"""Your own data as NumPy arrays: ``npy:PATH`` (one array) or ``npz:PATH`` (named arrays).

Accepted layouts (N examples):
    (N, H, W)      grey images            (N, H, W, C) images, C in 1, 3, 4 (channels last)
    (N, C, H, W)   images, C in 1, 3, 4   (N, D)       tabular rows
An ``.npz`` holds ``x`` (or ``images``, or its only array) with optional labels ``y`` (or
``labels``), or fixed splits ``train`` / ``test`` [/ ``valid``] with optional ``train_labels`` ...
Without fixed splits the last tenth is the test split. uint8 data is read as 8-bit levels
(divided by 255); bool as 0/1; other numbers are used as they are. A uint8 ``.npy`` of images too
large to hold comfortably in memory is memory-mapped, not read (``vaekit.data.diskcache``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaekit.data.npfiles import read_arrays
from vaekit.data.raw import RawSplits, Split
from vaekit.errors import DataError

CHANNELS = (1, 3, 4)


def _layout(path: Path, key: str, a: np.ndarray) -> np.ndarray:
    """Examples first, channels before height and width: (N, C, H, W) or (N, D)."""
    if a.ndim == 2:
        return a
    if a.ndim == 3:
        return a[:, None]
    if a.ndim == 4 and a.shape[-1] in CHANNELS and a.shape[1] not in CHANNELS:
        if isinstance(a, np.memmap):  # reordering would copy the whole file into memory
            raise DataError(
                f"{path}: array '{key}' of shape {a.shape} is too large for memory and channels-last; save it as (N, C, H, W) "
                "(a.transpose(0, 3, 1, 2)) so it can be read from disk"
            )
        return np.ascontiguousarray(a.transpose(0, 3, 1, 2))
    if a.ndim == 4 and a.shape[1] in CHANNELS:
        return a
    raise DataError(f"{path}: array '{key}' has shape {a.shape}; expected (N, D) rows or (N, H, W[, C]) / (N, C, H, W) images")


def _values(path: Path, key: str, a: np.ndarray) -> tuple[np.ndarray, float]:
    if a.dtype == np.uint8:
        return a, 255.0
    if a.dtype == np.bool_:
        return a.astype(np.uint8), 1.0
    if a.dtype.kind not in "iuf":
        raise DataError(f"{path}: array '{key}' has dtype {a.dtype}; expected real numbers")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise DataError(f"{path}: array '{key}' contains NaN or infinite values; clean the data first")
    return a, 1.0


def _labels(path: Path, key: str, y: np.ndarray | None, n: int) -> np.ndarray | None:
    if y is None:
        return None
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
        raise DataError(f"{path}: labels '{key}' must be {n} non-negative integers, found {y.dtype} {y.shape}")
    return y.astype(np.int64)


def _examples(path: Path, arrays: dict[str, np.ndarray], key: str, label_key: str) -> tuple[np.ndarray, np.ndarray | None, float]:
    """One split: examples in (N, C, H, W) or (N, D) layout, labels or None, and the scale."""
    a = arrays[key]
    if a.ndim >= 2 and 0 in a.shape:
        raise DataError(
            f"{path}: array '{key}' has shape {a.shape}; it needs at least one example (rows) of at least one value (columns or pixels)"
        )
    x, scale = _values(path, key, a)
    x = _layout(path, key, x)
    return x, _labels(path, label_key, arrays.get(label_key), len(x)), scale


def _single_array_key(path: Path, arrays: dict[str, np.ndarray]) -> str:
    key = next((k for k in ("x", "images", "data") if k in arrays), None)
    if key is None and len(arrays) == 1:
        key = next(iter(arrays))
    if key is None:
        raise DataError(f"{path}: no array named x, images or data (found {sorted(arrays)}); name the examples x and the labels y")
    return key


def load_arrays(path: str | Path) -> RawSplits:
    """Read an .npy/.npz file into fixed splits (see the module docstring for the layouts)."""
    path = Path(path)
    arrays = read_arrays(path)
    if "train" in arrays and "test" in arrays:
        names = [n for n in ("train", "valid", "test") if n in arrays]
        splits = {n: _examples(path, arrays, n, f"{n}_labels") for n in names}
    else:
        key = _single_array_key(path, arrays)
        x, y, scale = _examples(path, arrays, key, "y" if "y" in arrays else "labels")
        if len(x) < 3:
            raise DataError(f"{path}: only {len(x)} example(s); need at least 3 for train, validation and test splits")
        cut = len(x) - max(1, len(x) // 10)
        splits = {"train": (x[:cut], None if y is None else y[:cut], scale), "test": (x[cut:], None if y is None else y[cut:], scale)}
    if len({s[0].shape[1:] for s in splits.values()}) != 1 or len({s[2] for s in splits.values()}) != 1:
        raise DataError(f"{path}: the splits differ in example shape or dtype; store them alike")
    parts = {n: Split(s[0], s[1]) for n, s in splits.items()}
    mapped = any(isinstance(s[0], np.memmap) for s in splits.values())
    location = f"{path} (memory-mapped)" if mapped else str(path)
    return RawSplits(train=parts["train"], test=parts["test"], valid=parts.get("valid"), scale=splits["train"][2], location=location)
