"""``vaekit train --tensorboard``: each epoch's numbers and pictures in ``RUN/tensorboard/``.

After each epoch's checkpoint (rank 0 only, as every epoch-end callback), the epoch's metrics line
becomes scalars (``train/loss``, ``valid/kl``... at step = epoch), with the learning rate at the
epoch's last step (``train/lr``) and the wall time (``time/elapsed_s``); the sample and
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
from PIL import Image

from vaekit.errors import ConfigError
from vaekit.run.layout import IMAGES, METRICS
from vaekit.runtime.files import read_jsonl
from vaekit.training import TrainConfig
from vaekit.training.schedules import learning_rate

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


def tensorboard_callback(run_dir: Path, train: TrainConfig, steps_per_epoch: Callable[[], int]) -> Callable[[int, Any], None]:
    """The epoch-end callback that logs epoch ``e``'s line, learning rate and grids at step ``e``."""
    check_available()
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    state: dict[str, Any] = {}

    def on_epoch_end(epoch: int, model: Any) -> None:  # noqa: ARG001 -- the callback signature
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
            writer.add_scalar(
                "train/lr", learning_rate(metrics["step"] - 1, total, train.lr, train.lr_schedule, train.lr_warmup_steps), epoch
            )
        for name in ("samples", "reconstructions"):
            path = run_dir / IMAGES / f"{name}_{epoch:04d}.png"
            if path.is_file():
                with Image.open(path) as image:
                    writer.add_image(name, np.asarray(image.convert("RGB")), epoch, dataformats="HWC")
        writer.flush()

    return on_epoch_end
