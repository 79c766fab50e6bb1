"""``pbmc68k``: whole counts recovered from the log-normalised matrix in scanpy's example file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vaekit.cli import main
from vaekit.data import DataConfig, load_dataset, pbmc
from vaekit.errors import DataError

pd = pytest.importorskip("pandas")
anndata = pytest.importorskip("anndata")


def _lognorm(counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """scanpy's normalize_total(target_sum=1e4) then log1p, in float32 as the file stores it."""
    return np.log1p(counts / totals[:, None] * pbmc.TARGET_SUM).astype(np.float32)


def _fake_file(directory, cells: int = 60, genes: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A file laid out as scanpy's (scaled X, log-normalised raw.X, n_counts over more genes than kept, bulk_labels)."""
    from scipy import sparse

    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, cells)
    counts = rng.poisson(rng.dirichlet(np.ones(genes), 3)[kind] * rng.uniform(300, 1500, cells)[:, None]).astype(np.float64)
    totals = counts.sum(1) + rng.integers(100, 900, cells)  # n_counts also counts the genes the file left out
    raw = anndata.AnnData(X=sparse.csr_matrix(_lognorm(counts, totals)))
    adata = anndata.AnnData(X=rng.normal(size=(cells, genes)).astype(np.float32))  # scaled values: never read
    adata.raw = raw
    adata.obs["n_counts"] = totals.astype(np.float32)
    adata.obs["bulk_labels"] = pd.Categorical(np.array(["CD14+ Monocyte", "CD19+ B", "Dendritic"])[kind])
    directory.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(directory / pbmc.FILE)
    return counts, kind


def test_counts_come_back_whole_from_the_log_normalised_matrix_and_anything_else_is_refused():
    counts = np.array([[0, 1, 2, 250], [7, 0, 0, 3]], dtype=np.float64)
    totals = np.array([1000.0, 52.0])
    back = pbmc.counts_from_log_normalised(_lognorm(counts, totals), totals, "f.h5ad")
    assert back.dtype == np.float32 and np.array_equal(back, counts)
    with pytest.raises(
        DataError, match=r"f.h5ad: raw.X is not log\(1 \+ counts x 10000 / n_counts\) of whole counts \(cell 1, gene \d gives"
    ):
        pbmc.counts_from_log_normalised(_lognorm(counts, totals * 1.5), totals, "f.h5ad")  # the wrong totals: not whole


def test_pbmc68k_from_a_data_dir_gives_the_counts_labels_and_fixed_splits(tmp_path):
    counts, kind = _fake_file(tmp_path / "pbmc68k")
    data = load_dataset(DataConfig(name="pbmc68k", data_dir=tmp_path))
    assert data.shape == (20,) and data.classes == ("CD14+ Monocyte", "CD19+ B", "Dendritic")
    rows = torch.cat([data.train.x, data.valid.x, data.test.x])
    assert sorted(map(tuple, rows.long().tolist())) == sorted(map(tuple, counts.astype(np.int64).tolist()))  # every cell, whole
    labels = torch.cat([data.train.labels, data.valid.labels, data.test.labels])
    assert labels.bincount().tolist() == np.bincount(kind).tolist()
    again = load_dataset(DataConfig(name="pbmc68k", data_dir=tmp_path))
    assert torch.equal(again.test.x, data.test.x)


def test_pbmc68k_without_scanpy_or_the_file_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(pbmc, "_scanpy_copy", lambda: None)
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path))
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"pbmc68k reads 10x_pbmc68k_reduced.h5ad.*pip install --no-deps scanpy"):
        load_dataset(DataConfig(name="pbmc68k"))
    (tmp_path / "pbmc68k").mkdir()
    (tmp_path / "pbmc68k" / pbmc.FILE).write_bytes(b"not hdf5")
    with pytest.raises(DataError, match=r"10x_pbmc68k_reduced.h5ad: cannot read it as an .h5ad file"):
        load_dataset(DataConfig(name="pbmc68k"))


def test_the_file_inside_scanpy_is_the_10x_pbmc_sample_with_its_ten_cell_types(tmp_path, monkeypatch):
    if pbmc._scanpy_copy() is None:
        pytest.skip("scanpy is not installed (pip install --no-deps scanpy)")
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path))  # nothing there: the copy inside scanpy is read
    data = load_dataset(DataConfig(name="pbmc68k"))
    assert data.shape == (765,) and len(data.train) + len(data.valid) + len(data.test) == 700 and len(data.test) == 70
    rows = torch.cat([data.train.x, data.valid.x, data.test.x])
    assert torch.equal(rows, rows.round()) and rows.min() == 0 and rows.sum(1).min() > 300  # whole counts, every cell expressed
    labels = torch.cat([data.train.labels, data.valid.labels, data.test.labels])
    assert dict(zip(data.classes, labels.bincount().tolist(), strict=True)) == {
        "CD14+ Monocyte": 129,
        "CD19+ B": 95,
        "CD34+": 13,
        "CD4+/CD25 T Reg": 68,
        "CD4+/CD45RA+/CD25- Naive T": 8,
        "CD4+/CD45RO+ Memory": 19,
        "CD56+ NK": 31,
        "CD8+ Cytotoxic T": 54,
        "CD8+/CD45RA+ Naive Cytotoxic": 43,
        "Dendritic": 240,
    }  # the bulk_labels counts scanpy documents for this file


def test_a_zinb_vae_trains_on_pbmc68k_and_its_latent_map_names_the_cell_types(tmp_path, capsys):
    _fake_file(tmp_path / "data" / "pbmc68k", cells=90)
    out = tmp_path / "run"
    common = ["--data-dir", str(tmp_path / "data")]
    code = main(["train", "--data", "pbmc68k", *common, "--likelihood", "zinb", "--hidden", "32", "--latent-dim", "4", "--epochs", "3",
                 "--no-progress", "--no-images", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["evaluate", str(out), "--iw-samples", "10", "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["nll"] > 0
    assert main(["latent-map", str(out), "--out", str(tmp_path / "map.png"), "--split", "train", *common]) == 0
    assert (tmp_path / "map.png").stat().st_size > 0
