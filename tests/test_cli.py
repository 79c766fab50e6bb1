"""The vaekit command end to end, and every bad input: one-line message, exit status 2, no traceback."""

import gzip
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaekit import run
from vaekit.cli import main
from vaekit.data import mnist
from vaekit.run import layout

from conftest import TINY_FLAGS, assert_user_error, cli

REPORT_KEYS = {
    "trained_on",
    "kl_per_layer",
    "active_units_per_layer",
    "elbo",
    "reconstruction_nll",
    "kl",
    "iwae_log_px",
    "nll",
    "bits_per_dim",
    "active_units",
    "split",
    "n",
    "iw_samples",
    "mse",
    "codebook_perplexity",
    "psnr",
    "ssim",
    "mutual_information",
    "kl_per_dimension",
    "ood_auroc",
    "frechet_distance",
    "precision",
    "recall",
    "fid_classifier_accuracy",  # --fid
    "mig",
    "dci_disentanglement",
    "dci_completeness",
    "dci_informativeness",
    "sap",
    "factor_vae_score",
    "beta_vae_score",
    "edit_success",  # --edits
    "edit_preservation",
    "edit_distance",
    "edit_judge_accuracy",
    "edits",
    "edit_vectors",
}
TINY = ["--hidden", "32", "--latent-dim", "4", "--no-progress", "--no-images"]


def test_train_with_no_arguments_in_a_fresh_directory(tmp_path, monkeypatch):
    """The README's quickstart: `vaekit train` alone, offline, writes a run with samples."""
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "VAEKIT_CACHE": str(tmp_path / "cache")}
    env.pop("VAEKIT_DATA", None)
    done = subprocess.run([sys.executable, "-m", "vaekit", "train"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip())
    assert run_dir.parent == Path("runs") and (run_dir / layout.BEST).is_file()
    assert (run_dir / layout.IMAGES / "samples_0200.png").is_file()
    assert "best validation loss" in done.stderr


def test_console_script_is_installed():
    done = subprocess.run(["vaekit", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "train" in done.stdout and "evaluate" in done.stdout
    listing = subprocess.run(["vaekit", "list"], capture_output=True, text=True).stdout
    assert all(name in listing for name in ("olivetti-faces", "folder:PATH", "npz:PATH", "vq-vae", "seed-vae"))


def test_train_evaluate_sample_reconstruct(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = cli(capsys, "train", "--limit", 300, "--epochs", 2, *TINY, "--out", out)
    assert code == 0 and stdout.strip() == str(out) and "training vae" in err
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 5, "--limit", 40, "--json")
    report = json.loads(stdout)  # exactly one JSON object
    assert code == 0 and set(report) == REPORT_KEYS and report["n"] == 40 and report["iw_samples"] == 5
    assert report["nll"] == -report["iwae_log_px"] and report["iwae_log_px"] >= report["elbo"] - 1.0
    assert report["frechet_distance"] is None and report["mig"] is None  # not asked for: present, null
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 5, "--limit", 40, "--split", "valid")
    assert code == 0 and "bits_per_dim" in stdout and "valid" in stdout
    code, stdout, _ = cli(capsys, "sample", out, "--n", 16, "--out", tmp_path / "s.png")
    assert code == 0 and Image.open(tmp_path / "s.png").size == (4 * 34 + 2, 4 * 34 + 2)  # 8x8 upscaled x4, 2 px gaps
    code, _, _ = cli(capsys, "reconstruct", out, "--n", 16, "--out", tmp_path / "r.png")
    assert code == 0 and Image.open(tmp_path / "r.png").size == (8 * 34 + 2, 4 * 34 + 2)  # 2 rows of originals + 2 of reconstructions


def test_seed_ae_preset_on_mnist_and_resume(tmp_path, capsys, data_dir):
    out = tmp_path / "ae"
    code, _, err = cli(
        capsys,
        "train",
        "--preset",
        "seed-ae",
        "--data",
        "mnist",
        "--data-dir",
        data_dir,
        "--limit",
        500,
        "--epochs",
        1,
        "--no-progress",
        "--out",
        out,
    )
    assert code == 0 and "seed-ae (" in err
    code, _, err = cli(capsys, "train", "--resume", out, "--epochs", 2)
    assert code == 0 and "resuming" in err
    assert [json.loads(ln)["epoch"] for ln in (out / layout.METRICS).read_text().splitlines()] == [1, 2]
    code, stdout, _ = cli(capsys, "evaluate", out, "--limit", 100, "--json")
    report = json.loads(stdout)
    assert report["elbo"] is None and report["mse"] < 0.2
    code, stdout, _ = cli(capsys, "evaluate", out, "--limit", 100)
    assert "no prior, hence no likelihood: reconstruction metrics only" in stdout
    assert_user_error(capsys, ["sample", out, "--out", tmp_path / "x.png"], "has no prior to sample from")


def test_seed_vae_on_mnist_shortened(tmp_path, capsys, data_dir):
    """A shortened version of the 10-epoch check (the full one is marked slow)."""
    out = tmp_path / "vae"
    code, _, _ = cli(
        capsys,
        "train",
        "--preset",
        "seed-vae",
        "--data",
        "mnist",
        "--data-dir",
        data_dir,
        "--limit",
        20_000,
        "--epochs",
        3,
        "--no-progress",
        "--no-images",
        "--out",
        out,
    )
    assert code == 0
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 50, "--limit", 500, "--json", "--data-dir", data_dir)
    r = json.loads(stdout)
    # measured on 2 CPU cores: elbo -126.2, iwae_log_px -120.9 (K=50), 20 active units
    assert 120 < -r["elbo"] < 132 and r["iwae_log_px"] > r["elbo"] + 2 and r["active_units"] >= 15


@pytest.mark.slow
def test_seed_vae_on_mnist_ten_epochs_matches_pytorch_examples(tmp_path, capsys, data_dir):
    """pytorch/examples' VAE (same network) reaches a test loss of about 105-106 nats in 10 epochs."""
    out = tmp_path / "vae"
    code, _, _ = cli(
        capsys,
        "train",
        "--preset",
        "seed-vae",
        "--data",
        "mnist",
        "--data-dir",
        data_dir,
        "--epochs",
        10,
        "--valid-size",
        0,
        "--no-progress",
        "--no-images",
        "--out",
        out,
    )
    assert code == 0
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 1000, "--json", "--data-dir", data_dir)
    r = json.loads(stdout)
    assert 104 < -r["elbo"] < 107 and -r["iwae_log_px"] < -r["elbo"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["train", "--data", "cifar"], r"unknown dataset 'cifar'; choose one of: digits, mnist, fashion-mnist, binarized-mnist"),
        (
            ["train", "--model", "gan"],
            r"unknown model 'gan'; choose one of: vae, beta-vae, beta-tcvae, factor-vae, dip-vae, iwae, miwae, piwae, ciwae, vamp, "
            r"info-vae, hvae, hvae-iwae, cvae, ae, dae, sparse-ae, contractive-ae, wae, rae, vq-vae",
        ),
        (["train", "--preset", "seed-gan"], r"unknown preset 'seed-gan'; choose one of: seed-ae, seed-vae"),
        (
            ["train", "--preset", "seed-vae"],
            r"preset 'seed-vae' is built for inputs of shape \(1, 28, 28\) but the data has shape \(1, 8, 8\)",
        ),
        (["train", "--epochs", "0"], r"--epochs must be at least 1"),
        (["train", "--beta", "-1"], r"--beta must be 0 or more"),
        (["train", "--model", "vamp", "--pseudo-inputs", "0"], r"--pseudo-inputs must be at least 1"),
        (["train", "--model", "hvae", "--layer-dims", "0", "5"], r"--layers, --layer-dims and --ladder-hidden must be positive"),
        (["train", "--model", "miwae", "--groups", "0"], r"--groups must be at least 1"),
        (["train", "--model", "vq-vae", "--dead-code-steps", "-1"], r"--dead-code-steps must be 0 \(off\) or more"),
        (["train", "--ms-ssim-mix", "0"], r"--ms-ssim-mix must be in \(0, 1\]"),
        (["train", "--model", "rae", "--decoder-l2", "nan"], r"--decoder-l2 must be a finite number"),
        (["train", "--model", "info-vae", "--mmd-weight", "-1"], r"--mmd-weight must be 0 or more"),
        (["train", "--activation", "swish"], r"unknown activation 'swish'"),
        (["evaluate", "--iw-samples", "0", "."], r"--iw-samples must be at least 1"),
    ],
)
def test_bad_names_and_values(argv, pattern, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(capsys, argv, pattern)
    assert not (tmp_path / "runs").exists()  # no half-written run directory


def test_missing_dataset_files(tmp_path, capsys, isolated_cache, monkeypatch):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ["http://127.0.0.1:9/"])
    assert_user_error(
        capsys,
        ["train", "--data", "mnist", "--out", tmp_path / "r"],
        r"could not download train-images-idx3-ubyte.gz .* or pass --data-dir DIR",
    )
    assert_user_error(
        capsys, ["train", "--data", "binarized-mnist", "--out", tmp_path / "r"], r"binarized_mnist.npz not found .* pass --data-dir DIR"
    )
    assert not (tmp_path / "r").exists()


def _mnist_dir(tmp_path, data_dir):
    d = tmp_path / "mnist"
    d.mkdir()
    for f in (data_dir / "mnist").glob("t10k*"):
        (d / f.name).write_bytes(f.read_bytes())
    return d


def test_corrupt_truncated_and_lying_idx_files(tmp_path, capsys, data_dir, isolated_cache):
    d = _mnist_dir(tmp_path, data_dir)
    good = (data_dir / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes()
    (d / "train-labels-idx1-ubyte.gz").write_bytes(good)
    images = d / "train-images-idx3-ubyte.gz"
    images.write_bytes((data_dir / "mnist" / images.name).read_bytes()[:200_000])  # a download cut short
    assert_user_error(
        capsys,
        ["train", "--data", "mnist", "--data-dir", d, "--out", tmp_path / "r"],
        r"train-images-idx3-ubyte.gz: cannot read .*corrupt or truncated",
    )
    images.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(1000)))
    assert_user_error(
        capsys,
        ["train", "--data", "mnist", "--data-dir", d, "--out", tmp_path / "r"],
        r"truncated IDX file: the header promises 47040000 bytes of data .* holds 1000",
    )
    images.write_bytes(b"not gzip, not idx at all")
    assert_user_error(capsys, ["train", "--data", "mnist", "--data-dir", d, "--out", tmp_path / "r"], r"not an IDX file \(bad magic number")
    assert not (tmp_path / "r").exists()


def test_corrupt_npz_and_wrong_values(tmp_path, capsys, isolated_cache):
    d = tmp_path / "b"
    d.mkdir()
    (d / "binarized_mnist.npz").write_bytes(b"PK\x03\x04garbage")
    assert_user_error(capsys, ["train", "--data", "binarized-mnist", "--data-dir", d], r"binarized_mnist.npz: cannot read")
    np.savez(
        d / "binarized_mnist.npz",
        train=np.full((5, 784), 255, np.uint8),
        valid=np.zeros((2, 784), np.uint8),
        test=np.zeros((2, 784), np.uint8),
    )
    assert_user_error(capsys, ["train", "--data", "binarized-mnist", "--data-dir", d], r"values other than 0 and 1")
    np.savez(
        d / "binarized_mnist.npz",
        train=np.zeros((5, 28, 28), np.uint8),
        valid=np.zeros((2, 784), np.uint8),
        test=np.zeros((2, 784), np.uint8),
    )
    assert_user_error(capsys, ["train", "--data", "binarized-mnist", "--data-dir", d], r"shape \(5, 28, 28\), expected \(N, 784\)")


def test_not_a_run_directory(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for cmd in (["evaluate"], ["sample", "--out", tmp_path / "s.png"], ["reconstruct", "--out", tmp_path / "r.png"]):
        assert_user_error(capsys, [*cmd, tmp_path / "empty"], r"empty: not a vaekit run \(no config.json\)")
        assert_user_error(capsys, [*cmd, tmp_path / "missing"], r"missing: no such run directory")
    assert_user_error(capsys, ["train", "--resume", tmp_path / "empty"], r"not a vaekit run")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    assert_user_error(capsys, ["evaluate", tmp_path / "broken"], r"config.json: cannot parse")


def test_run_directory_misuse(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(capsys, "train", "--limit", 200, "--epochs", 1, *TINY, "--out", out)[0] == 0
    before = (out / layout.STATE).read_bytes()
    assert_user_error(capsys, ["train", "--out", out], r"already holds a run; continue it with `vaekit train --resume")
    assert_user_error(
        capsys,
        ["train", "--resume", out, "--lr", "0.1"],
        r"drop --lr \(only --epochs, --device, --progress, --compile, --tensorboard, --mlflow may be given\)",
    )
    assert_user_error(capsys, ["train", "--resume", out, "--data", "mnist", "--model", "ae"], r"drop --data, --model \(only")
    code, _, err = cli(capsys, "train", "--resume", out)
    assert code == 0 and "has already trained 1 epochs; pass --epochs N" in err
    assert_user_error(capsys, ["sample", out, "--out", tmp_path / "nodir" / "s.png"], r"nodir: no such directory")
    assert_user_error(capsys, ["sample", out, "--out", tmp_path / "s.jpg"], r"images are written as .png; give a file name ending in .png")
    (out / layout.BEST).write_bytes(b"\x00" * 20)
    assert_user_error(capsys, ["evaluate", out], r"best.safetensors: cannot read .* damaged")
    assert (out / layout.STATE).read_bytes() == before


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(Exception, match="unknown dataset"):
        main(["--debug", "train", "--data", "nope"])
    assert main(["nonsense"]) == 2 and "unknown command 'nonsense'" in capsys.readouterr().err


# ---------------------------------------------------------------- architectures and data of issue 3


def test_conv_vae_trains_on_olivetti_faces(tmp_path, capsys, data_dir):
    out = tmp_path / "faces"
    code, _, err = cli(
        capsys,
        "train",
        "--data",
        "olivetti-faces",
        "--data-dir",
        data_dir,
        "--arch",
        "conv",
        "--width",
        "16",
        "--latent-dim",
        "16",
        "--epochs",
        12,
        "--batch-size",
        32,
        "--no-progress",
        "--out",
        out,
    )
    assert code == 0, err
    lines = [json.loads(ln) for ln in (out / layout.METRICS).read_text().splitlines()]
    assert lines[-1]["valid_loss"] < lines[0]["valid_loss"] - 100  # nats: it learns, not just runs
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 10, "--json")
    assert code == 0 and json.loads(stdout)["n"] == 40
    assert cli(capsys, "sample", out, "--n", 4, "--out", tmp_path / "s.png")[0] == 0
    assert Image.open(tmp_path / "s.png").size == (2 * 66 + 2, 2 * 66 + 2)  # 64 px faces, no upscaling


def test_seed_face_example_256x256_to_32_numbers_trains(tmp_path, capsys):
    """The seed's running example: 256x256 face images compressed to a 32-number latent."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:256, :256]
    faces = []
    for _ in range(12):  # ellipse 'faces' with two eyes, in colour
        cy, cx, r = rng.uniform(110, 146), rng.uniform(110, 146), rng.uniform(70, 100)
        face = ((yy - cy) ** 2 / (1.3 * r) ** 2 + (xx - cx) ** 2 / r**2) < 1
        eyes = ((yy - cy + 25) ** 2 + (np.abs(xx - cx) - 30) ** 2) < 100
        faces.append(np.stack([face * 200, face * 160 - eyes * 120, face * 120], -1).clip(0, 255).astype(np.uint8))
    np.save(tmp_path / "faces.npy", np.stack(faces))
    out = tmp_path / "run"
    code, _, err = cli(
        capsys,
        "train",
        "--data",
        f"npy:{tmp_path / 'faces.npy'}",
        "--arch",
        "conv",
        "--width",
        "8",
        "--latent-dim",
        "32",
        "--epochs",
        3,
        "--batch-size",
        4,
        "--no-progress",
        "--no-images",
        "--out",
        out,
    )
    assert code == 0, err
    config = json.loads((out / layout.CONFIG).read_text())
    assert config["model"]["input_shape"] == [3, 256, 256] and config["model"]["latent_dim"] == 32
    lines = [json.loads(ln) for ln in (out / layout.METRICS).read_text().splitlines()]
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]


def test_tabular_npz_gets_a_gaussian_likelihood(tmp_path, capsys):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 2))
    x = z @ rng.normal(size=(2, 6)) + 3.0 + 0.1 * rng.normal(size=(400, 6))  # 2 factors in 6 columns
    np.savez(tmp_path / "tab.npz", x=x)
    out = tmp_path / "run"
    code, _, err = cli(
        capsys,
        "train",
        "--data",
        f"npz:{tmp_path / 'tab.npz'}",
        "--latent-dim",
        2,
        "--hidden",
        32,
        "--epochs",
        300,
        "--no-progress",
        "--out",
        out,
    )
    assert code == 0, err
    model = json.loads((out / layout.CONFIG).read_text())["model"]
    assert (model["likelihood"], model["output_activation"], model["input_shape"]) == ("gaussian", "identity", [6])
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 20, "--json")
    report = json.loads(stdout)
    assert code == 0 and report["mse"] < 0.5 * x.var(0).mean() and report["active_units"] == 2  # measured: mse 0.23, variance 0.49
    assert_user_error(capsys, ["sample", out, "--out", tmp_path / "s.png"], r"image grids need \(N, C, H, W\) images .* not images")


@pytest.mark.parametrize(
    "model",
    [
        "vae",
        "beta-vae",
        "beta-tcvae",
        "iwae",
        "cvae",
        "ae",
        "dae",
        "sparse-ae",
        pytest.param("contractive-ae", marks=pytest.mark.slow),
        "vq-vae",
    ],
)  # contractive-ae: 5 s of Jacobians; it also trains in tests/models/test_compiled.py and the conformance suite
def test_every_model_trains_on_an_mnist_subset(model, tmp_path, capsys, data_dir):
    out = tmp_path / model
    code, _, err = cli(
        capsys,
        "train",
        "--model",
        model,
        "--data",
        "mnist",
        "--data-dir",
        data_dir,
        "--limit",
        10_000,
        "--valid-size",
        1000,
        "--hidden",
        128,
        "--latent-dim",
        8,
        "--epochs",
        3,
        "--no-progress",
        "--no-images",
        "--out",
        out,
    )
    assert code == 0, err
    lines = [json.loads(ln) for ln in (out / layout.METRICS).read_text().splitlines()]
    assert lines[-1]["valid_reconstruction"] < lines[0]["valid_reconstruction"]
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 10, "--limit", 200, "--json")
    report = json.loads(stdout)
    # it uses its code: far better than the best constant, the mean training image (MSE 0.067)
    from vaekit.data import DataConfig, load_dataset

    data = load_dataset(DataConfig(name="mnist", data_dir=data_dir, limit=10_000, valid_size=1000))
    test = data.test.batch(slice(0, 200))
    baseline = ((test - data.train.batch(slice(None)).mean(0)) ** 2).mean().item()
    assert report["mse"] < 0.8 * baseline, (report["mse"], baseline)
    assert code == 0 and (report["iwae_log_px"] is None) == (model in {"ae", "dae", "sparse-ae", "contractive-ae", "vq-vae"})
    assert (report["codebook_perplexity"] is not None) == (model == "vq-vae")
    if model in ("vq-vae", "vae"):  # generation from the prior (a prior fitted to the codes for the VQ-VAE)
        assert cli(capsys, "sample", out, "--n", 16, "--data-dir", data_dir, "--out", tmp_path / "s.png")[0] == 0
    config = json.loads((out / layout.CONFIG).read_text())
    assert config["objective"]["beta"] == {"beta-vae": 4.0, "beta-tcvae": 6.0}.get(model, 1.0)
    assert config["model"]["samples"] == (5 if model == "iwae" else 1)


def test_cvae_samples_the_class_it_is_asked_for(tmp_path, capsys):
    import torch

    from vaekit.generation import one_hot_labels, sample

    out = tmp_path / "cvae"
    code, _, err = cli(
        capsys, "train", "--model", "cvae", "--hidden", 128, "--latent-dim", 4, "--epochs", 100, "--no-progress", "--out", out
    )
    assert code == 0, err
    assert json.loads((out / layout.CONFIG).read_text())["model"]["condition_dim"] == 10
    model = run.load(out)
    train = run.load_split(out, "train")
    class_means = torch.stack([train.batch(train.labels == k).mean(0) for k in range(10)])  # (10, 1, 8, 8)
    hits = 0
    for k in range(10):
        images = sample(model, 50, torch.Generator().manual_seed(k), condition=one_hot_labels([k] * 50, 10)).mean(0)
        hits += int(((class_means - images) ** 2).flatten(1).sum(1).argmin()) == k
    assert hits >= 9  # the label, not chance (1 in 10), decides what is drawn
    code, _, _ = cli(capsys, "sample", out, "--label", 7, "--n", 8, "--out", tmp_path / "sevens.png")
    assert code == 0 and (tmp_path / "sevens.png").is_file()
    assert_user_error(capsys, ["sample", out, "--label", 12, "--out", tmp_path / "x.png"], r"--label 12: this model knows the classes 0..9")
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 10, "--json")
    assert code == 0 and json.loads(stdout)["iwae_log_px"] > json.loads(stdout)["elbo"]  # log p(x | y)


def test_conditional_runs_need_conditions(tmp_path, capsys, data_dir):
    assert_user_error(
        capsys,
        ["train", "--model", "cvae", "--data", "frey-faces", "--data-dir", data_dir, "--out", tmp_path / "r"],
        r"a model conditioned on labels needs data with class labels; this dataset has none",
    )
    assert not (tmp_path / "r").exists()
    assert cli(capsys, "train", "--epochs", 1, *TINY, "--out", tmp_path / "vae")[0] == 0
    assert_user_error(
        capsys, ["sample", tmp_path / "vae", "--label", 3, "--out", tmp_path / "x.png"], r"--label needs a run of a label-conditioned model"
    )


def test_cvae_conditioned_on_folder_attributes(tmp_path, capsys):
    from conftest import make_folder

    root = make_folder(tmp_path / "pets")
    out = tmp_path / "run"
    code, _, err = cli(
        capsys,
        "train",
        "--model",
        "cvae",
        "--condition",
        "attributes",
        "--data",
        f"folder:{root}",
        "--image-size",
        8,
        "--attributes",
        tmp_path / "attrs.csv",
        "--hidden",
        32,
        "--latent-dim",
        2,
        "--epochs",
        3,
        "--no-progress",
        "--out",
        out,
    )
    assert code == 0, err
    assert json.loads((out / layout.CONFIG).read_text())["model"]["condition_dim"] == 2  # Smiling, Is_Cat
    assert cli(capsys, "sample", out, "--n", 4, "--out", tmp_path / "s.png")[0] == 0
    assert cli(capsys, "reconstruct", out, "--n", 4, "--out", tmp_path / "r.png")[0] == 0


def test_evaluate_health_reconstruction_and_ood(tmp_path, capsys, data_dir):
    out = tmp_path / "vae"
    assert (
        cli(
            capsys,
            "train",
            "--data",
            "mnist",
            "--data-dir",
            data_dir,
            "--limit",
            10_000,
            "--hidden",
            128,
            "--latent-dim",
            8,
            "--epochs",
            2,
            "--no-progress",
            "--no-images",
            "--out",
            out,
        )[0]
        == 0
    )
    code, stdout, err = cli(
        capsys, "evaluate", out, "--iw-samples", 10, "--limit", 500, "--ood-data", "fashion-mnist", "--data-dir", data_dir, "--json"
    )
    assert code == 0, err
    r = json.loads(stdout)
    assert 0 < r["mutual_information"] <= math.log(500) and len(r["kl_per_dimension"]) == 8
    assert sum(r["kl_per_dimension"]) == pytest.approx(r["kl"], rel=1e-3)
    assert 10 < r["psnr"] < 40 and 0 < r["ssim"] < 1
    assert r["ood_auroc"] > 0.95  # Fashion-MNIST is far from MNIST under an MNIST model (measured 0.9995 with the seed VAE)
    assert_user_error(
        capsys, ["evaluate", out, "--ood-data", "frey-faces", "--data-dir", data_dir], r"--ood-data has examples of shape \(1, 28, 20\)"
    )


# ---------------------------------------------------------------- parsing and help


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["train", "--epochs", "abc"], r"^vaekit: error: --epochs: cannot read 'abc' as .*\(see vaekit train --help\)$"),
        (["train", "--lr", "x"], r"--lr: 'x' is not a number"),
        (["train", "--bogus", "1"], r"unrecognized option\(s\): --bogus, 1"),
        (["evaluate"], r"missing RUN \(see vaekit evaluate --help\)"),
        (["evaluate", "run", "--iw-sample", "3"], r"did you mean --iw-samples"),
        (["evaluate", "run", "--split", "tset"], r"invalid choice 'tset' for argument '--split'"),
        (["sample", "run"], r"missing --out"),
        (["interpolate", "run", "--method", "slrep", "--out", "x.png"], r"invalid choice 'slrep'"),
    ],
)
def test_parse_errors_are_one_line_with_exit_status_2(argv, pattern, capsys):
    assert_user_error(capsys, argv, pattern)


def test_help_groups_family_options_and_says_each_default_once(capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    groups = re.findall(r"^[╭─ ]*([\w ,-]*?) ?options *[─╮]*$", text, re.M)  # box titles, UTF-8 or ASCII
    assert groups[:4] == ["", "data", "model", "training"], groups
    assert "vq-vae" in groups and "dae" in groups and "sparse-ae" in groups  # family options under their family
    assert text.index("--codebook-size") > text.index("--patience")  # the common options first
    assert "(default: None)" not in text.split("--out")[1].split("--resume")[0]  # no doubled default for --out
    assert not re.search(r"default[^()]*\)\. \(default:", text)


def test_every_command_has_help_from_its_docstring(capsys):
    from vaekit.cli import COMMANDS

    for name, command in COMMANDS.items():
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith(f"usage: vaekit {name}"), name
        summary = command.fn.__doc__.strip().splitlines()[0]
        assert " ".join(summary.split()[:4]) in " ".join(text.split()), (name, summary)


def test_evaluate_shows_only_metrics_that_apply_with_units(tiny_digits_run, capsys):
    code, out, _ = cli(capsys, "evaluate", tiny_digits_run, "--iw-samples", 3, "--limit", 50)
    assert code == 0 and "n/a" not in out and "None" not in out
    rows = {ln.split()[0]: ln for ln in out.splitlines()}
    assert rows["elbo"].endswith("nats") and rows["bits_per_dim"].endswith("bits/dim") and rows["psnr"].endswith("dB")
    assert "frechet_distance" not in rows and "codebook_perplexity" not in rows


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    done = subprocess.run(f"{sys.executable} -m vaekit train --help | head -1", shell=True, capture_output=True, text=True)
    assert done.stdout.startswith("usage: vaekit train") and "Traceback" not in done.stderr and "Error" not in done.stderr


def test_disentanglement_recipes_train_resume_and_score_small(tmp_path, capsys):
    """The shapes recipes, on 300 sprites for an epoch: a factor-vae with its critic, then a network
    preset with another family; evaluate --disentanglement scores both."""
    out = tmp_path / "factor"
    small = ["--data", "shapes:300", "--no-progress", "--no-images"]
    code, _, err = cli(capsys, "train", "--preset", "shapes-factor-vae", *small, "--epochs", 1, "--batch-size", 32, "--out", out)
    assert code == 0 and "training shapes-factor-vae" in err
    code, _, err = cli(capsys, "train", "--resume", out, "--epochs", 2)
    assert code == 0 and "train_critic" in (out / layout.METRICS).read_text()
    code, stdout, _ = cli(capsys, "evaluate", out, "--disentanglement", "--iw-samples", 2, "--json")
    report = json.loads(stdout)
    assert code == 0 and 0 <= report["mig"] <= 1 and 0 <= report["dci_disentanglement"] <= 1
    for flag, name in (("--factors", "labelled.png"), ("--no-factors", "plain.png")):
        code, _, _ = cli(capsys, "traverse", out, "--top", 3, "--steps", 5, flag, "--out", tmp_path / name)
        assert code == 0
    labelled, plain = Image.open(tmp_path / "labelled.png"), Image.open(tmp_path / "plain.png")
    assert labelled.height == plain.height and labelled.width > plain.width + 20  # a margin of 'z3: x 0.12' labels
    assert np.array(labelled)[:, : labelled.width - plain.width].min() == 0  # with black text in it
    dip = tmp_path / "dip"
    code, _, err = cli(
        capsys, "train", "--preset", "locatello-conv", "--model", "dip-vae", "--dip-type", "ii", *small, "--epochs", 1, "--out", dip
    )
    assert code == 0 and "training locatello-conv" in err and run.model_config(dip).kind == "dip-vae"
    code, _, err = cli(capsys, "train", "--model", "vae", "--gamma", 3, *small, "--epochs", 1, "--out", tmp_path / "bad")
    assert code == 2 and "does not use --gamma" in err


def test_richer_priors_and_posteriors_train_resume_evaluate_and_sample(tmp_path, capsys, data_dir):
    """A VampPrior VAE and an IAF posterior on real digits, end to end; what they cannot do is refused."""
    small = ["--data", "mnist", "--limit", 300, "--no-progress", "--no-images", "--hidden", 64, "--latent-dim", 4]
    vamp = tmp_path / "vamp"
    code, _, _ = cli(capsys, "train", "--model", "vamp", "--pseudo-inputs", 20, *small, "--epochs", 1, "--out", vamp)
    assert code == 0
    code, _, _ = cli(capsys, "train", "--resume", vamp, "--epochs", 2)
    assert code == 0
    code, stdout, _ = cli(capsys, "evaluate", vamp, "--iw-samples", 5, "--limit", 100, "--json")
    report = json.loads(stdout)
    assert code == 0 and report["iwae_log_px"] >= report["elbo"] and report["kl"] > 0
    assert report["kl_per_dimension"] is None and report["mutual_information"] is not None  # the mixture prior does not factorise
    iaf = tmp_path / "iaf"
    code, _, _ = cli(
        capsys, "train", "--model", "piwae", "--samples", 4, "--groups", 2, "--flow", "iaf", *small, "--epochs", 1, "--out", iaf
    )
    assert code == 0 and run.model_config(iaf).flow == "iaf"
    code, stdout, _ = cli(capsys, "evaluate", iaf, "--iw-samples", 5, "--limit", 100, "--json")
    report = json.loads(stdout)
    assert (
        code == 0 and math.isfinite(report["nll"]) and report["mutual_information"] is None
    )  # a flow's density is known at its samples only
    hvae = tmp_path / "hvae"
    code, _, err = cli(
        capsys, "train", "--preset", "burda-2layer", "--limit", 300, "--epochs", 1, "--no-progress", "--no-images", "--out", hvae
    )
    assert code == 0 and "training burda-2layer" in err
    code, stdout, _ = cli(capsys, "evaluate", hvae, "--iw-samples", 5, "--limit", 100)
    assert code == 0 and re.search(r"kl_per_layer +[\d.]+ [\d.]+ nats", stdout) and re.search(r"active_units_per_layer +\d+ \d+\n", stdout)
    for model in (vamp, iaf, hvae):
        code, _, _ = cli(capsys, "sample", model, "--n", 4, "--out", tmp_path / f"{model.name}.png")
        assert code == 0 and Image.open(tmp_path / f"{model.name}.png").size[0] > 0
    refused = [
        (["--model", "beta-tcvae", "--flow", "planar"], "does not use --flow"),
        (["--model", "vae", "--flow", "radial", "--free-bits", 0.5], "--free-bits needs the KL of each latent dimension"),
        (["--model", "miwae", "--samples", 6], "--groups 4 must divide --samples 6"),
        (["--model", "vamp", "--flow", "iaf"], "drop --flow"),
        (["--model", "ciwae", "--ciwae-beta", 2], "--ciwae-beta must be in"),
    ]
    for argv, message in refused:
        code, _, err = cli(capsys, "train", *argv, *small, "--out", tmp_path / "bad")
        assert code == 2 and message in err and not (tmp_path / "bad").exists()


def test_regularised_autoencoders_train_and_only_the_wae_samples_from_its_prior(tmp_path, capsys, data_dir):
    small = ["--data", "mnist", "--limit", 300, "--no-progress", "--no-images", "--hidden", 64, "--latent-dim", 4, "--epochs", 1]
    for name, extra in (("wae", ["--kernel", "rbf"]), ("rae", ["--gradient-penalty", 0.01]), ("info-vae", ["--info-alpha", 0.5])):
        code, _, err = cli(capsys, "train", "--model", name, *extra, *small, "--out", tmp_path / name)
        assert code == 0, err
        code, stdout, _ = cli(capsys, "evaluate", tmp_path / name, "--iw-samples", 3, "--limit", 50, "--json")
        report = json.loads(stdout)
        assert code == 0 and math.isfinite(report["mse"]) and (report["nll"] is not None) == (name == "info-vae")
    code, _, _ = cli(capsys, "sample", tmp_path / "wae", "--n", 4, "--out", tmp_path / "wae.png")
    assert code == 0 and (tmp_path / "wae.png").exists()
    code, _, err = cli(capsys, "sample", tmp_path / "rae", "--n", 4, "--out", tmp_path / "rae.png")
    assert code == 2 and "has no prior" in err
    code, _, err = cli(capsys, "train", "--model", "wae", "--info-alpha", 0.5, *small, "--out", tmp_path / "bad")
    assert code == 2 and "does not use --info-alpha" in err


@pytest.mark.slow  # 6.5 s; the samplers themselves are tested in tests/generation/test_samplers.py
def test_fitted_samplers_let_an_autoencoder_generate_and_feed_fid(tmp_path, capsys):
    out = tmp_path / "ae"
    code, _, _ = cli(capsys, "train", "--model", "rae", "--data", "digits", "--epochs", 2, "--no-progress", "--no-images", "--out", out)
    assert code == 0
    code, _, err = cli(capsys, "sample", out, "--sampler", "gmm", "--out", tmp_path / "g.png")
    assert code == 2 and "has no gmm sampler; fit one first: vaekit fit-sampler" in err
    for kind in ("gmm", "flow", "two-stage"):
        code, stdout, _ = cli(capsys, "fit-sampler", out, "--sampler", kind, "--components", 4, "--epochs", 2)
        assert code == 0 and stdout.strip().endswith(f"{kind}.safetensors")
        code, _, _ = cli(capsys, "sample", out, "--sampler", kind, "--n", 16, "--out", tmp_path / f"{kind}.png")
        assert code == 0 and Image.open(tmp_path / f"{kind}.png").size[0] > 0
    code, stdout, _ = cli(capsys, "evaluate", out, "--fid", "--fid-samples", 50, "--sampler", "flow", "--json")
    report = json.loads(stdout)
    assert code == 0 and report["frechet_distance"] > 0 and 0 <= report["precision"] <= 1
    code, _, err = cli(capsys, "evaluate", out, "--sampler", "gmm")
    assert code == 2 and "add --fid" in err
    code, _, err = cli(capsys, "fit-sampler", out, "--sampler", "gmm", "--components", 0)
    assert code == 2 and "components" in err
    code, _, err = cli(capsys, "sample", out, "--sampler", "gmm", "--top-k", 3, "--out", tmp_path / "k.png")
    assert code == 2 and "--top-k applies to --sampler autoregressive" in err
    vq = tmp_path / "vq"
    code, _, _ = cli(capsys, "train", "--model", "vq-vae", "--data", "digits", "--epochs", 1, "--no-progress", "--no-images", "--out", vq)
    assert code == 0
    code, _, err = cli(capsys, "fit-sampler", vq, "--sampler", "gmm")
    assert code == 2 and "fit --sampler autoregressive" in err
    code, _, _ = cli(capsys, "fit-sampler", vq, "--sampler", "autoregressive", "--epochs", 1)
    assert code == 0
    code, _, _ = cli(capsys, "sample", vq, "--sampler", "autoregressive", "--top-k", 5, "--n", 8, "--out", tmp_path / "vq.png")
    assert code == 0 and (tmp_path / "vq.png").exists()


def test_ms_ssim_training_is_refused_on_small_images_and_reported_honestly(tmp_path, capsys, data_dir):
    code, _, err = cli(capsys, "train", "--data", "mnist", "--reconstruction", "ms-ssim", "--out", tmp_path / "small")
    assert code == 2 and "both sides over 32 pixels" in err and not (tmp_path / "small").exists()
    out = tmp_path / "faces"
    argv = ["--data", "faces:200", "--arch", "conv", "--reconstruction", "ms-ssim", "--ms-ssim-mix", 0.5, "--epochs", 1]
    code, _, _ = cli(capsys, "train", *argv, "--no-progress", "--no-images", "--out", out)
    assert code == 0
    code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 2, "--json")
    report = json.loads(stdout)
    assert code == 0 and report["trained_on"] == "ms-ssim (mix 0.5) + KL, not the likelihood" and math.isfinite(report["elbo"])


def test_the_adversarial_term_trains_any_family_and_is_reported_honestly(tmp_path, capsys):
    np.save(tmp_path / "rows.npy", np.random.default_rng(0).normal(size=(100, 20)).astype(np.float32))
    code, _, err = cli(capsys, "train", "--data", f"npy:{tmp_path / 'rows.npy'}", "--adversarial", "patch", "--out", tmp_path / "rows")
    assert code == 2 and "needs images with both sides of 8 pixels or more" in err and not (tmp_path / "rows").exists()
    code, _, err = cli(capsys, "train", "--data", "digits", "--adversarial-weight", 2, "--out", tmp_path / "w")
    assert code == 2 and "add --adversarial patch" in err and not (tmp_path / "w").exists()
    for model in ("vae", "ae"):
        out = tmp_path / model
        code, _, err = cli(
            capsys, "train", "--model", model, "--data", "digits", "--adversarial", "patch", "--epochs", 1, *TINY_FLAGS, "--out", out
        )
        assert code == 0, err
        code, stdout, _ = cli(capsys, "evaluate", out, "--iw-samples", 2, "--json")
        report = json.loads(stdout)
        kl = " + KL" if model == "vae" else ""
        assert code == 0 and report["trained_on"] == f"likelihood{kl} + adversarial (patch, weight 0.5), not the ELBO alone"
