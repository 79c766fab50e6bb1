"""``pbmc68k``: real single-cell RNA counts, from the example file that ships inside scanpy's wheel.

scanpy (``pip install --no-deps scanpy``; vaekit reads only its data file, never imports it)
bundles ``datasets/10x_pbmc68k_reduced.h5ad``: 700 peripheral blood cells of 10x Genomics' 68k
PBMC data set (Zheng et al. 2017, Nat. Commun. 8:14049) and 765 highly variable genes, with the
sorted-population cell type of each cell in ``obs['bulk_labels']`` (10 types). Its ``X`` is
scaled, but ``raw.X`` holds log(1 + counts * 10^4 / n_counts) with each cell's total count in
``obs['n_counts']``, so the integer counts come back exactly: ``expm1(raw.X) * n_counts / 10^4``
is within float32 rounding of a whole number in every entry (checked on load; a file that is not
so is refused rather than rounded into garbage).

The file is looked for in ``--data-dir``, ``$VAEKIT_DATA/pbmc68k/``, the user cache, then inside
the installed scanpy. Splits as the other tables: a fixed shuffle, the last tenth is the test set.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np

from vaekit.data.raw import RawSplits
from vaekit.data.sources import candidate_dirs
from vaekit.data.tables import labels_of, need_module, shuffled_splits
from vaekit.errors import DataError, first_line

NAME = "pbmc68k"
FILE = "10x_pbmc68k_reduced.h5ad"
LABEL_COLUMN = "bulk_labels"
TARGET_SUM = 1e4  # scanpy's normalize_total target the file was made with
INSTALL = "pip install --no-deps scanpy"


def _scanpy_copy() -> Path | None:
    """The file inside an installed scanpy, found without importing scanpy (it needs numba etc.)."""
    try:
        spec = importlib.util.find_spec("scanpy")
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "datasets" / FILE
        if path.is_file():
            return path
    return None


def find_pbmc(data_dir: Path | None) -> Path:
    for directory in candidate_dirs(NAME, data_dir):
        if (directory / FILE).is_file():
            return directory / FILE
    found = _scanpy_copy()
    if found is None:
        raise DataError(
            f"pbmc68k reads {FILE}, the example file inside scanpy's wheel, and found neither scanpy nor the file: "
            f"{INSTALL} (vaekit reads only the file), or put {FILE} in --data-dir"
        )
    return found


def counts_from_log_normalised(lognorm: np.ndarray, totals: np.ndarray, where: str) -> np.ndarray:
    """Integer counts (float32) from log(1 + x * TARGET_SUM / total), refusing values that do not come back whole."""
    counts = np.expm1(lognorm.astype(np.float64)) * totals.astype(np.float64)[:, None] / TARGET_SUM
    whole = np.rint(counts)
    off = np.abs(counts - whole) / np.maximum(1.0, whole)
    if not np.isfinite(counts).all() or (whole < 0).any() or off.max() > 1e-3:
        row, column = np.unravel_index(int(np.argmax(np.where(np.isfinite(off), off, np.inf))), off.shape)
        raise DataError(
            f"{where}: raw.X is not log(1 + counts x {TARGET_SUM:g} / n_counts) of whole counts (cell {row + 1}, gene {column + 1} "
            f"gives {counts[row, column]:.3f}); this is not the file scanpy ships, use h5ad:PATH for your own file"
        )
    return whole.astype(np.float32)


def load_pbmc(data_dir: Path | None = None) -> RawSplits:
    """700 cells x 765 genes of raw counts, labelled by cell type (see the module docstring)."""
    anndata = need_module("anndata", NAME)
    path = find_pbmc(data_dir)
    try:
        with warnings.catch_warnings():  # the 2019 file's layout gets FutureWarnings from newer anndata
            warnings.simplefilter("ignore")
            adata = anndata.read_h5ad(path)
        raw, obs = adata.raw, adata.obs
        if raw is None or "n_counts" not in obs.columns or LABEL_COLUMN not in obs.columns:
            raise DataError(f"{path}: has no raw matrix, obs['n_counts'] or obs['{LABEL_COLUMN}']; this is not the file scanpy ships")
        matrix = raw.X
        lognorm = np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 -- h5py / anndata raise many types for a bad file
        raise DataError(f"{path}: cannot read it as an .h5ad file ({first_line(e)})") from None
    x = counts_from_log_normalised(lognorm, obs["n_counts"].to_numpy(), str(path))
    y, classes = labels_of(obs[LABEL_COLUMN].to_numpy(), f"{path}: obs column '{LABEL_COLUMN}'")
    notes = [f"{len(x)} cells x {x.shape[1]} genes of whole counts recovered from raw.X; labels: {len(classes)} cell types"]
    return shuffled_splits(x, y, classes, str(path), notes)
