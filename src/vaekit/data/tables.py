"""Tables: ``csv:PATH`` and ``parquet:PATH`` (pandas / pyarrow), and ``h5ad:PATH`` (anndata), as rows of features.

Every numeric column is a feature, except ``--label-column``, whose values become the class labels
(sorted; their names are kept for the latent map). Other non-numeric columns are left out with a
note. A missing value is refused with the column and row it is in, unless ``--impute mean`` fills
each column's gaps with its mean over the training rows. An ``.h5ad`` file (the anndata format
single-cell data ship in) gives its ``X`` matrix (sparse or dense: raw counts for the count
likelihoods) and labels from an ``obs`` column.

Rows are shuffled once with a fixed seed and the last tenth is the test split, so the same file
always gives the same splits. The libraries are optional extras: ``pip install 'vaekit[tables]'``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.data.raw import RawSplits, Split
from vaekit.errors import DataError, first_line
from vaekit.runtime import memory

SPLIT_SEED = 0
INSTALL = "pip install 'vaekit[tables]'"


def need_module(module: str, what: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise DataError(f"{what} needs the {module} package, which is not installed: {INSTALL}") from None


def _read_frame(path: Path, kind: str):
    """The file as a pandas DataFrame (one line of error for anything unreadable)."""
    pd = need_module("pandas", f"{kind}:{path}")
    if kind == "parquet":
        need_module("pyarrow", f"parquet:{path}")
    if not path.is_file():
        raise DataError(f"{path}: no such file; give {kind}:PATH with a .{kind} file")
    try:
        frame = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 -- pandas raises many types for a bad file; all mean "cannot read it"
        raise DataError(f"{path}: cannot read it as {kind} ({first_line(e)})") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{path}: the table is empty; it needs a header row and at least 3 rows of values")
    return frame


def labels_of(values: np.ndarray, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices of a label column and the class names (sorted)."""
    text = np.array(["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values], dtype=object)
    if (text == "").any():
        row = int(np.flatnonzero(text == "")[0])
        raise DataError(f"{where} has an empty label at row {row + 1}; fill it or drop the row")
    classes, index = np.unique(text.astype(str), return_inverse=True)
    return index.astype(np.int64), tuple(str(c) for c in classes)


def _order(n: int) -> np.ndarray:
    return np.random.default_rng(SPLIT_SEED).permutation(n)


def _impute(x: np.ndarray, names: list[str], train_rows: np.ndarray, impute: str, path: Path, notes: list[str]) -> np.ndarray:
    missing = ~np.isfinite(x)
    if not missing.any():
        return x
    column = int(np.flatnonzero(missing.any(0))[0])
    row = int(np.flatnonzero(missing[:, column])[0])
    if impute != "mean":
        raise DataError(
            f"{path}: column '{names[column]}' has {int(missing[:, column].sum())} missing or infinite value(s) (first in data row "
            f"{row + 1}); fill them, or pass --impute mean"
        )
    train = x[train_rows]
    with np.errstate(invalid="ignore"):
        means = np.nanmean(np.where(np.isfinite(train), train, np.nan), axis=0)
    empty = [names[j] for j in np.flatnonzero(~np.isfinite(means))]
    if empty:
        raise DataError(f"{path}: column(s) {', '.join(empty[:5])} have no values in the training rows to impute from; drop them")
    x = np.where(missing, means[None, :], x).astype(np.float32)
    notes.append(f"filled {int(missing.sum()):,} missing value(s) in {int(missing.any(0).sum())} column(s) with the training rows' means")
    return x


def shuffled_splits(x: np.ndarray, y: np.ndarray | None, classes, location: str, notes: list[str]) -> RawSplits:
    if len(x) < 3:
        raise DataError(f"{location}: only {len(x)} row(s); need at least 3 for train, validation and test splits")
    order = _order(len(x))
    x, y = x[order], None if y is None else y[order]
    cut = len(x) - max(1, len(x) // 10)
    return RawSplits(
        train=Split(x[:cut], None if y is None else y[:cut]),
        test=Split(x[cut:], None if y is None else y[cut:]),
        scale=1.0,
        location=location,
        classes=classes,
        notes=tuple(notes),
    )


def load_table(path: Path, kind: str, label_column: str | None = None, impute: str = "none") -> RawSplits:
    """A csv or parquet table as (N, D) float32 rows with optional labels (see the module docstring)."""
    path = Path(path)
    frame = _read_frame(path, kind)
    notes: list[str] = []
    y = classes = None
    if label_column is not None:
        if label_column not in frame.columns:
            raise DataError(f"{path}: no column '{label_column}' for --label-column (columns: {', '.join(map(str, frame.columns[:10]))})")
        y, classes = labels_of(frame[label_column].to_numpy(), f"{path}: column '{label_column}'")
        frame = frame.drop(columns=[label_column])
    numeric = frame.select_dtypes(include=["number", "bool"])
    dropped = [str(c) for c in frame.columns if c not in numeric.columns]
    if numeric.shape[1] == 0:
        raise DataError(f"{path}: no numeric columns to use as features (found {', '.join(dropped[:10])})")
    if dropped:
        notes.append(f"left out {len(dropped)} non-numeric column(s): {', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}")
    memory.require(numeric.shape[0] * numeric.shape[1] * 4, f"{path} ({numeric.shape[0]:,} x {numeric.shape[1]:,})", "use a smaller table")
    x = numeric.to_numpy(dtype=np.float32, na_value=np.nan)
    cut = len(x) - max(1, len(x) // 10)
    x = _impute(x, [str(c) for c in numeric.columns], _order(len(x))[:cut], impute, path, notes)
    return shuffled_splits(x, y, classes, str(path), notes)


def load_h5ad(path: Path, label_column: str | None = None) -> RawSplits:
    """An anndata .h5ad file: rows of ``X`` (dense or sparse) as features, labels from ``obs[label_column]``."""
    path = Path(path)
    anndata = need_module("anndata", f"h5ad:{path}")
    if not path.is_file():
        raise DataError(f"{path}: no such file; give h5ad:PATH with an .h5ad file")
    try:
        adata = anndata.read_h5ad(path, backed="r")
    except Exception as e:  # noqa: BLE001 -- h5py / anndata raise many types for a bad file
        raise DataError(f"{path}: cannot read it as an .h5ad file ({first_line(e)})") from None
    n, d = adata.shape
    memory.require(n * d * 4, f"{path} (X: {n:,} cells x {d:,} genes)", "use fewer cells or genes")
    matrix = adata.X[:]
    x = np.asarray(matrix.todense() if hasattr(matrix, "todense") else matrix, dtype=np.float32)
    y = classes = None
    if label_column is not None:
        if label_column not in adata.obs.columns:
            raise DataError(
                f"{path}: no obs column '{label_column}' for --label-column (obs columns: {', '.join(map(str, adata.obs.columns[:10]))})"
            )
        y, classes = labels_of(adata.obs[label_column].to_numpy(), f"{path}: obs column '{label_column}'")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: X holds missing or infinite values; clean the matrix first")
    return shuffled_splits(x, y, classes, str(path), [])
