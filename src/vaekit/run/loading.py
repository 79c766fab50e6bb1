"""Loading a run: its model (with the best or last weights) and the data it was trained on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

import torch

from vaekit.data import DatasetSplits, InMemoryDataset, load_dataset
from vaekit.errors import RunDirError, lookup
from vaekit.models import LatentModel, build_model
from vaekit.models.memory import require_fits
from vaekit.run.config import data_config, model_config
from vaekit.run.layout import BEST, CONFIG, WEIGHTS
from vaekit.runtime.files import load_tensors

SPLITS = ("train", "valid", "test")
WEIGHT_FILES = {"best": (BEST, WEIGHTS), "last": (WEIGHTS,)}  # 'best' falls back to the latest


def load(run_dir: str | Path, weights: Literal["best", "last"] = "best", device: str | torch.device = "cpu") -> LatentModel:
    """The trained model of a run, in eval mode.

    Args:
        run_dir: a directory written by ``vaekit train``.
        weights: 'best' (best validation loss; falls back to the latest) or 'last'.
        device: where to put the model.
    """
    run_dir = Path(run_dir)
    candidates = [run_dir / name for name in lookup(WEIGHT_FILES, weights, "--weights")]
    config = model_config(run_dir)
    require_fits(config, 1, training=False, device=device, what=f"the model in {run_dir / CONFIG}")
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise RunDirError(
            f"{run_dir}: has no saved weights yet ({WEIGHTS}); resume the run with "
            f"`vaekit train --resume {run_dir}` (Python: vaekit.resume('{run_dir}'))"
        )
    model = build_model(config)
    tensors, _ = load_tensors(path)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        reason = " ".join(line.strip() for line in str(e).strip().splitlines()[:2])  # 'Error(s) in loading...:' then the first mismatch
        raise RunDirError(f"{path}: weights do not fit the model in {CONFIG} ({reason})") from None
    return model.to(device).eval()


def load_splits(run_dir: Path, data_dir: Path | None = None, name: str | None = None) -> DatasetSplits:
    """All splits of the dataset a run was trained on (same binarization and validation size, every
    training example), or of another dataset ``name`` loaded the same way (same binarization)."""
    config = data_config(run_dir)
    if data_dir is not None:
        config = replace(config, data_dir=Path(data_dir))
    if name is not None and name != config.name:
        config = replace(config, name=name, valid_size=None, attributes=None)
    return load_dataset(replace(config, limit=None))


def load_split(
    run_dir: Path,
    split: str,
    data_dir: Path | None = None,
    limit: int | None = None,
    device: str | torch.device = "cpu",
    name: str | None = None,
) -> InMemoryDataset:
    """One split of ``load_splits``, its first ``limit`` examples, on ``device``."""
    lookup({s: s for s in SPLITS}, split, "--split")
    data = load_splits(run_dir, data_dir, name).split(split)
    return (data.head(limit) if limit else data).to(device)
