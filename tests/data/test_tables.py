"""csv / parquet / h5ad tables, and the count likelihoods trained on them end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vaekit.cli import main
from vaekit.data import DataConfig, load_dataset
from vaekit.errors import ConfigError, DataError
from vaekit.run import layout

pd = pytest.importorskip("pandas")


def _counts(n: int = 300, genes: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Counts of two cell types with different expression profiles and library sizes that vary 4x."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, n)
    profiles = rng.dirichlet(np.ones(genes), 2)  # (2, genes)
    library = rng.uniform(200, 800, n)
    mean = profiles[kind] * library[:, None]
    return rng.poisson(rng.gamma(2.0, mean / 2.0)).astype(np.int64), kind


def _frame(n: int = 300) -> pd.DataFrame:
    counts, kind = _counts(n)
    frame = pd.DataFrame(counts, columns=[f"gene{i}" for i in range(counts.shape[1])])
    frame["cell_type"] = np.where(kind == 0, "B cell", "T cell")
    frame["barcode"] = [f"AAAC{i:05d}" for i in range(n)]  # text: left out with a note
    return frame


def test_csv_and_parquet_round_trip_the_numeric_columns_with_labels(tmp_path):
    frame = _frame()
    frame.to_csv(tmp_path / "t.csv", index=False)
    csv = load_dataset(DataConfig(name=f"csv:{tmp_path / 't.csv'}", label_column="cell_type"))
    assert csv.shape == (12,) and csv.classes == ("B cell", "T cell")
    assert any("left out 1 non-numeric column(s): barcode" in n for n in csv.notes)
    rows = torch.cat([csv.train.x, csv.valid.x, csv.test.x])
    assert sorted(map(tuple, rows.long().tolist())) == sorted(map(tuple, frame.iloc[:, :12].to_numpy().tolist()))  # every row, once
    labels = torch.cat([csv.train.labels, csv.valid.labels, csv.test.labels])
    assert labels.bincount().tolist() == frame["cell_type"].value_counts().sort_index().tolist()
    pytest.importorskip("pyarrow")
    frame.to_parquet(tmp_path / "t.parquet")
    parquet = load_dataset(DataConfig(name=f"parquet:{tmp_path / 't.parquet'}", label_column="cell_type"))
    for split in ("train", "valid", "test"):  # the same splits from the same table
        assert torch.equal(parquet.split(split).x, csv.split(split).x)
        assert torch.equal(parquet.split(split).labels, csv.split(split).labels)


def test_bad_tables_are_one_clear_error(tmp_path):
    frame = _frame(40)
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"no column 'celltype' for --label-column \(columns: gene0, gene1"):
        load_dataset(DataConfig(name=f"csv:{tmp_path / 't.csv'}", label_column="celltype"))
    holes = frame.astype({"gene3": float})
    holes.loc[7, "gene3"] = np.nan
    holes.to_csv(tmp_path / "holes.csv", index=False)
    with pytest.raises(DataError, match=r"column 'gene3' has 1 missing or infinite value\(s\) .*; fill them, or pass --impute mean"):
        load_dataset(DataConfig(name=f"csv:{tmp_path / 'holes.csv'}"))
    filled = load_dataset(DataConfig(name=f"csv:{tmp_path / 'holes.csv'}", impute="mean"))
    assert any("filled 1 missing value(s) in 1 column(s)" in n for n in filled.notes)
    assert torch.isfinite(torch.cat([filled.train.x, filled.valid.x, filled.test.x])).all()
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv: cannot read it as csv"):
        load_dataset(DataConfig(name=f"csv:{tmp_path / 'empty.csv'}"))
    with pytest.raises(DataError, match=r"nothing.csv: no such file; give csv:PATH"):
        load_dataset(DataConfig(name=f"csv:{tmp_path / 'nothing.csv'}"))
    pd.DataFrame({"name": ["a", "b", "c", "d"]}).to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(DataError, match=r"no numeric columns to use as features \(found name\)"):
        load_dataset(DataConfig(name=f"csv:{tmp_path / 'text.csv'}"))
    with pytest.raises(ConfigError, match=r"--label-column goes with --data csv:PATH"):
        DataConfig(name="digits", label_column="y")


def test_h5ad_counts_from_a_sparse_x_and_labels_from_obs(tmp_path):
    anndata = pytest.importorskip("anndata")
    from scipy import sparse

    counts, kind = _counts(120)
    adata = anndata.AnnData(X=sparse.csr_matrix(counts.astype(np.float32)))
    adata.obs["cell_type"] = pd.Categorical(np.where(kind == 0, "B", "T"))
    adata.write_h5ad(tmp_path / "cells.h5ad")
    data = load_dataset(DataConfig(name=f"h5ad:{tmp_path / 'cells.h5ad'}", label_column="cell_type"))
    assert data.shape == (12,) and data.classes == ("B", "T")
    rows = torch.cat([data.train.x, data.valid.x, data.test.x])
    assert sorted(map(tuple, rows.long().tolist())) == sorted(map(tuple, counts.tolist()))
    with pytest.raises(DataError, match=r"no obs column 'kind' for --label-column \(obs columns: cell_type\)"):
        load_dataset(DataConfig(name=f"h5ad:{tmp_path / 'cells.h5ad'}", label_column="kind"))
    (tmp_path / "bad.h5ad").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match=r"bad.h5ad: cannot read it as an .h5ad file"):
        load_dataset(DataConfig(name=f"h5ad:{tmp_path / 'bad.h5ad'}"))


def test_count_vaes_train_on_a_csv_and_the_overdispersed_ones_fit_gamma_poisson_counts_better(tmp_path, capsys):
    """The counts are gamma-Poisson (overdispersed): the negative binomials must beat the Poisson on held-out nats."""
    from vaekit import run

    _frame().to_csv(tmp_path / "t.csv", index=False)
    nll = {}
    for likelihood in ("poisson", "negative-binomial", "zinb"):
        out = tmp_path / likelihood
        common = ["--data", f"csv:{tmp_path / 't.csv'}", "--label-column", "cell_type", "--hidden", "32", "--latent-dim", "2"]
        code = main(["train", *common, "--likelihood", likelihood, "--epochs", "15", "--no-progress", "--no-images", "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        capsys.readouterr()
        lines = [json.loads(ln) for ln in (out / layout.METRICS).read_text().splitlines()]
        assert lines[-1]["valid_loss"] < lines[0]["valid_loss"]
        assert main(["evaluate", str(out), "--iw-samples", "20", "--json"]) == 0
        nll[likelihood] = json.loads(capsys.readouterr().out)["nll"]
        library = run.load(out).head.library.item()
        assert library == pytest.approx(_frame().iloc[:, :12].to_numpy().sum(1).mean(), rel=0.1)  # the training rows' mean
    assert 0 < nll["negative-binomial"] < nll["poisson"] and 0 < nll["zinb"] < nll["poisson"], nll


def test_count_likelihoods_refuse_data_that_are_not_counts(tmp_path, capsys):
    frame = _frame(60).drop(columns=["barcode"])
    frame["gene0"] = frame["gene0"] / 10.0  # normalised values, not counts
    frame.to_csv(tmp_path / "norm.csv", index=False)
    code = main(
        [
            "train",
            "--data",
            f"csv:{tmp_path / 'norm.csv'}",
            "--label-column",
            "cell_type",
            "--likelihood",
            "poisson",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "needs counts (whole numbers >= 0) but the data hold" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
    code = main(["train", "--data", "digits", "--arch", "conv", "--likelihood", "zinb", "--out", str(tmp_path / "c")])
    assert code == 2 and "--likelihood zinb is for tables of counts: use --arch mlp" in capsys.readouterr().err
