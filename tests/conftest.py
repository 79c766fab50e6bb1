"""Shared fixtures: where the real data lives, tiny model configs, seeded synthetic data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vaekit import experiment
from vaekit.data import DataConfig
from vaekit.models import ModelConfig
from vaekit.training import TrainConfig

REPO = Path(__file__).resolve().parents[1]

# Tiny versions of the registered families: fast enough for every test to train one.
TINY = {
    "vae": ModelConfig(kind="vae", hidden=(32,), latent_dim=4),
    "vae-gaussian": ModelConfig(kind="vae", hidden=(32,), latent_dim=4, likelihood="gaussian", learn_variance=True),
    "ae": ModelConfig(kind="ae", hidden=(32,), latent_dim=4, likelihood="gaussian"),
    "ae-bce": ModelConfig(kind="ae", hidden=(32,), latent_dim=4, latent_activation="relu"),
    "vq-vae": ModelConfig(kind="vq-vae", hidden=(32,), latent_dim=4, code_dim=2, codebook_size=16),
}


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


def tiny_run_config(model: str = "vae", epochs: int = 3, **train) -> experiment.RunConfig:
    """A digits run that trains in about a second."""
    return experiment.RunConfig(
        data=DataConfig(name="digits", limit=512),
        model=TINY[model],
        train=TrainConfig(epochs=epochs, batch_size=64, progress=False, **train),
    )


@pytest.fixture(scope="session")
def trained_digits_run(tmp_path_factory) -> Path:
    """A VAE trained on digits long enough for likelihood checks to mean something."""
    out = tmp_path_factory.mktemp("runs") / "digits-vae"
    config = experiment.RunConfig(
        data=DataConfig(name="digits"),
        model=ModelConfig(kind="vae", hidden=(128,), latent_dim=8),
        train=TrainConfig(epochs=60, progress=False),
    )
    experiment.train(config, out, images=False)
    return out
