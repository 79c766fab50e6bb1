"""``vaekit train --tensorboard``: each epoch's numbers and pictures in ``RUN/tensorboard/``.

After each epoch's checkpoint (rank 0 only, as every epoch-end callback), the epoch's metrics line
becomes scalars (``train/loss``, ``valid/kl``... at step = epoch), with the learning rate at the
epoch's last step (``train/lr``), the KL weight β·w(t) and the capacity target C(t) where the
objective schedules them (``train/kl_weight``, ``train/capacity``), the wall time
(``time/elapsed_s``), and for a Gaussian posterior under the N(0, I) prior the KL of each latent
dimension on the validation split (``kl_per_dimension/z00``..., a histogram of them, and
``valid/active_units``: posterior collapse shows as dimensions at 0); the sample and
reconstruction grids written that epoch become images; the run's configuration is logged once as
hyper-parameters (TensorBoard's HPARAMS tab) and as text. The writer opens on the first epoch it
logs with ``purge_step`` at that epoch, so a resumed run appends to the same log and any events a
stopped process wrote past its last checkpoint are dropped: no step appears twice.

MLflow is not wired in: its run model (a tracking server or file store per experiment, runs
identified by ids) does not map onto a run directory without a second source of truth; the
TensorBoard files live inside the run directory and move with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vaekit.data import InMemoryDataset
from vaekit.distributions import DiagonalGaussian
from vaekit.errors import ConfigError
from vaekit.evaluation.latent import active_units, kl_per_dimension
from vaekit.generation.encode import encode_split
from vaekit.objectives import ObjectiveConfig
from vaekit.objectives.registry import READS
from vaekit.objectives.schedules import capacity, kl_weight
from vaekit.run.layout import IMAGES, METRICS
from vaekit.runtime.files import read_jsonl
from vaekit.training import TrainConfig
from vaekit.training.schedules import learning_rate

KL_EXAMPLES = 2000  # validation examples encoded for the KL of each dimension (posterior means: no noise drawn)

DIRECTORY = "tensorboard"
INSTALL = "pip install 'vaekit[tensorboard]'"


def check_available() -> None:
    """A clear error before training when the tensorboard package is missing."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError(f"--tensorboard needs the tensorboard package, which is not installed: {INSTALL}") from None


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The nested config as flat name -> value pairs TensorBoard's hparams accept (numbers, strings, booleans)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
        elif value is not None:
            out[name] = json.dumps(value)
    return out


def _kl_schedule(writer: Any, objective: str, config: ObjectiveConfig, step: int, total: int, epoch: int) -> None:
    """The KL weight (or capacity target) the objective used at ``step``, where it reads the KL options."""
    if "kl_warmup_steps" not in READS.get(objective, set()):
        return
    if config.capacity is not None:
        writer.add_scalar("train/capacity", capacity(step, config.capacity, config.capacity_steps), epoch)
    else:
        weight = config.beta * kl_weight(step, total, config.kl_warmup_steps, config.kl_cycles, config.kl_cycle_ratio)
        writer.add_scalar("train/kl_weight", weight, epoch)


@torch.no_grad()
def _kl_per_dimension(writer: Any, model: Any, valid: InMemoryDataset | None, epoch: int) -> None:
    """Each latent dimension's mean KL on (the first KL_EXAMPLES of) the validation split, where it splits over dimensions."""
    if valid is None or not len(valid) or not model.has_prior or model.deterministic:
        return
    was_training = model.training
    codes = encode_split(model, valid.head(KL_EXAMPLES))
    model.train(was_training)
    if codes.logvar is None or not isinstance(model.prior(1, like=codes.mu), DiagonalGaussian):
        return
    per_dimension = kl_per_dimension(codes.mu.double(), codes.logvar.double()).cpu()
    for index, value in enumerate(per_dimension.tolist()):
        writer.add_scalar(f"kl_per_dimension/z{index:02d}", value, epoch)
    writer.add_histogram("valid/kl_per_dimension", per_dimension, epoch)
    writer.add_scalar("valid/active_units", active_units(codes.mu), epoch)


def tensorboard_callback(
    run_dir: Path,
    train: TrainConfig,
    steps_per_epoch: Callable[[], int],
    objective: str = "",
    objective_config: ObjectiveConfig | None = None,
    valid: InMemoryDataset | None = None,
) -> Callable[[int, Any], None]:
    """The epoch-end callback that logs epoch ``e``'s line, learning rate, KL schedule, KL per dimension and grids at step ``e``.

    ``objective`` is the family's objective name (``MODELS[kind].objective``); ``valid`` the validation split.
    """
    check_available()
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    state: dict[str, Any] = {}

    def on_epoch_end(epoch: int, model: Any) -> None:
        writer = state.get("writer")
        if writer is None:
            writer = state["writer"] = SummaryWriter(str(run_dir / DIRECTORY), purge_step=epoch)
            if epoch == 1:  # the run's first epoch: its configuration, once
                config = json.loads((run_dir / "config.json").read_text())
                experiment, start, end = hparams(_flat(config), {"valid/loss": 0.0})
                for summary in (experiment, start, end):
                    writer.file_writer.add_summary(summary)
                writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)
        lines = [line for line in read_jsonl(run_dir / METRICS) if line.get("epoch") == epoch]
        if lines:
            metrics = lines[-1]
            for key, value in metrics.items():
                split, _, term = key.partition("_")
                if split in ("train", "valid") and isinstance(value, int | float):
                    writer.add_scalar(f"{split}/{term}", value, epoch)
            writer.add_scalar("time/elapsed_s", metrics.get("elapsed_s", 0.0), epoch)
            total = steps_per_epoch() * (train.epochs or 1)
            step = metrics["step"] - 1  # the epoch's last optimizer step
            writer.add_scalar("train/lr", learning_rate(step, total, train.lr, train.lr_schedule, train.lr_warmup_steps), epoch)
            if objective_config is not None:
                _kl_schedule(writer, objective, objective_config, step, total, epoch)
        _kl_per_dimension(writer, model, valid, epoch)
        for name in ("samples", "reconstructions"):
            path = run_dir / IMAGES / f"{name}_{epoch:04d}.png"
            if path.is_file():
                with Image.open(path) as image:
                    writer.add_image(name, np.asarray(image.convert("RGB")), epoch, dataformats="HWC")
        writer.flush()

    return on_epoch_end
