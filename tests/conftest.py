"""Shared fixtures and helpers: where the real data lives, tiny model configs, seeded synthetic data,
the CLI runner and its one-line-error check, generated files (IDX, image folders), run comparison.

Test files import helpers from here (``from conftest import ...``), never from each other.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.cli import main
from vaekit.commands import RunConfig, train
from vaekit.commands.fit import _prepare, _trainer
from vaekit.data import DataConfig
from vaekit.models import ModelConfig
from vaekit.run import layout
from vaekit.runtime.files import load_tensors
from vaekit.training import TrainConfig

REPO = Path(__file__).resolve().parents[1]

# Tiny versions of the registered families: fast enough for every test to train one.
TINY = {
    "vae": ModelConfig(kind="vae", hidden=(32,), latent_dim=4),
    "vae-gaussian": ModelConfig(kind="vae", hidden=(32,), latent_dim=4, likelihood="gaussian", learn_variance=True),
    "ae": ModelConfig(kind="ae", hidden=(32,), latent_dim=4, likelihood="gaussian"),
    "ae-bce": ModelConfig(kind="ae", hidden=(32,), latent_dim=4, latent_activation="relu"),
    "vq-vae": ModelConfig(kind="vq-vae", hidden=(32,), latent_dim=4, code_dim=2, codebook_size=16),
    "factor-vae": ModelConfig(kind="factor-vae", hidden=(32,), latent_dim=4),
    "vamp": ModelConfig(kind="vamp", hidden=(32,), latent_dim=4, pseudo_inputs=10),
    "rae": ModelConfig(kind="rae", hidden=(32,), latent_dim=4),
    "wae": ModelConfig(kind="wae", hidden=(32,), latent_dim=4),
    "hvae": ModelConfig(kind="hvae", hidden=(32,), ladder_hidden=(16,), latent_dim=4),
}
TINY_FLAGS = ["--hidden", "32", "--latent-dim", "4", "--no-progress", "--no-images"]  # the tiny VAE on the command line


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data ($VAEKIT_DATA, else ../shared/data beside the repository)."""
    path = Path(os.environ.get("VAEKIT_DATA") or REPO.parent / "shared" / "data")
    if not (path / "mnist").is_dir():
        pytest.skip(f"real data not found at {path}; set VAEKIT_DATA to the shared data directory")
    return path


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """An empty download cache and no $VAEKIT_DATA, so only explicit data dirs are seen."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("VAEKIT_CACHE", str(cache))
    monkeypatch.delenv("VAEKIT_DATA", raising=False)
    return cache


@pytest.fixture
def images() -> torch.Tensor:
    """Seeded synthetic 'images' in [0, 1], (16, 1, 4, 4)."""
    return torch.rand(16, 1, 4, 4, generator=torch.Generator().manual_seed(0))


def tiny_run_config(model: str = "vae", epochs: int = 3, **train_options) -> RunConfig:
    """A digits run that trains in about a second."""
    return RunConfig(
        data=DataConfig(name="digits", limit=512),
        model=TINY[model],
        train=TrainConfig(epochs=epochs, batch_size=64, progress=False, **train_options),
    )


def tiny_faces_cvae_config() -> RunConfig:
    """A cvae conditioned on the nine attributes of 200 rendered 32x32 faces: trains in about a second."""
    return RunConfig(
        data=DataConfig(name="faces:200", image_size=32),
        model=ModelConfig(kind="cvae", condition="attributes", hidden=(16,), latent_dim=4),
        train=TrainConfig(epochs=1, batch_size=32, progress=False),
    )


@pytest.fixture(scope="session")
def trained_digits_run(tmp_path_factory) -> Path:
    """A VAE trained on digits long enough for likelihood checks to mean something."""
    out = tmp_path_factory.mktemp("runs") / "digits-vae"
    config = RunConfig(
        data=DataConfig(name="digits"),
        model=ModelConfig(kind="vae", hidden=(128,), latent_dim=8),
        train=TrainConfig(epochs=60, progress=False),
    )
    train(config, out, images=False)
    return out


@pytest.fixture(scope="session")
def tiny_digits_run(tmp_path_factory) -> Path:
    """A tiny VAE trained for one epoch: for tests that need any run at all."""
    out = tmp_path_factory.mktemp("runs") / "tiny-vae"
    train(tiny_run_config(epochs=1), out, images=False)
    return out


# ----------------------------------------------------------------------------- the command line


def cli(capsys, *argv) -> tuple[int, str, str]:
    """``vaekit ARGV`` in this process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, argv, pattern) -> str:
    """Exit status 2, one line on stderr starting 'vaekit: error:', matching ``pattern``, no traceback."""
    code, out, err = cli(capsys, *argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vaekit: error: "), err
    assert "Traceback" not in err
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


# ------------------------------------------------------------------------------- generated files


def write_idx(path: Path, array: np.ndarray, claim: tuple[int, ...] | None = None, compress: bool = True) -> Path:
    """An IDX file of uint8 ``array``; ``claim`` overrides the dimensions in the header."""
    dims = claim or array.shape
    data = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_mnist_dir(root: Path, n_train: int = 30, n_test: int = 10) -> Path:
    """A small, valid set of the four MNIST IDX files."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    write_idx(root / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(root / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, n_train))
    write_idx(root / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(root / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, n_test))
    return root


COLOURS = {"cats": (220, 30, 30), "dogs": (30, 30, 220)}


def make_folder(root: Path, n_per_class: int = 12, attributes: bool = True) -> Path:
    """cats are red, dogs blue; every third image 'smiles' (CelebA-style -1/1 attribute file)."""
    rows = ["image_id,Smiling,Is_Cat"]
    for cls, colour in COLOURS.items():
        (root / cls / "nested").mkdir(parents=True)
        for i in range(n_per_class):
            size = (40, 20) if i == 0 else (24, 24)  # one non-square image to crop
            where = root / cls / ("nested" if i % 2 else "") / f"{cls}_{i}.{'png' if i % 3 else 'jpg'}"
            Image.new("RGB", size, colour).save(where)
            rows.append(f"{cls}_{i}.{'png' if i % 3 else 'jpg'},{1 if i % 3 == 0 else -1},{1 if cls == 'cats' else -1}")
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "dogs" / "readme.txt").write_text("not an image, ignored")
    if attributes:
        (root.parent / "attrs.csv").write_text("\n".join(rows) + "\n")
    return root


# --------------------------------------------------------------------------------- run directories


def weights(run_dir: Path, name: str = layout.WEIGHTS) -> dict[str, torch.Tensor]:
    tensors, _ = load_tensors(run_dir / name)
    return tensors


def assert_same_run(a: Path, b: Path) -> None:
    """Two runs are bitwise the same: weights, best weights, training state and every metrics line."""
    for name in (layout.WEIGHTS, layout.BEST, layout.STATE):
        ta, tb = weights(a, name), weights(b, name)
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{name}: {k} differs"

    def strip(p: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(ln).items() if k != "elapsed_s"} for ln in (p / layout.METRICS).read_text().splitlines()]

    assert strip(a) == strip(b)


def make_trainer(tmp_path: Path, **train_options):
    """A Trainer of the tiny digits VAE in tmp_path/run, not yet started."""
    data, config, model = _prepare(tiny_run_config(epochs=2, **train_options), torch.device("cpu"))
    (tmp_path / "run").mkdir()
    return _trainer(config, data, model, tmp_path / "run", images=False, echo=None)
