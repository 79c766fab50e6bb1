"""``vaekit train --tensorboard`` / ``--mlflow``: each epoch's numbers and pictures, inside the run directory.

After each epoch's checkpoint (rank 0 only, as every epoch-end callback), the epoch's metrics line
becomes scalars (``train/loss``, ``valid/kl``... at step = epoch), with the learning rate at the
epoch's last step (``train/lr``), the KL weight β·w(t) and the capacity target C(t) where the
objective schedules them (``train/kl_weight``, ``train/capacity``), the wall time
(``time/elapsed_s``), and for a Gaussian posterior under the N(0, I) prior the KL of each latent
dimension on the validation split (``kl_per_dimension/z00``..., a histogram of them, and
``valid/active_units``: posterior collapse shows as dimensions at 0); the sample and
reconstruction grids written that epoch become images; the run's configuration is logged once.

One epoch's values go to every logger through one small protocol (``Log.write``), with two
implementations:

- TensorBoard (``RUN/tensorboard/``): the config as hyper-parameters (the HPARAMS tab) and as
  text. The writer opens on the first epoch it logs with ``purge_step`` at that epoch, so a
  resumed run appends to the same log and any events a stopped process wrote past its last
  checkpoint are dropped: no step appears twice.
- MLflow (``RUN/mlflow/``: a SQLite tracking store ``mlflow.db`` and its artifacts, so the log
  lives in the run directory like the rest; ``mlflow ui --backend-store-uri
  sqlite:///RUN/mlflow/mlflow.db``): the flat config as parameters, ``config.json`` as an
  artifact, scalars as metrics, grids as images. MLflow cannot delete a metric value, so when a
  resumed run finds values past its checkpoint (a stopped process logged epochs it then lost), it
  starts a fresh MLflow run holding the old run's values up to the checkpoint and the grids on
  disk, and deletes the old one (MLflow's soft delete): each step still appears once.
  ``RUN/mlflow/run_id`` names the current MLflow run.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

from vaekit.data import InMemoryDataset
from vaekit.distributions import DiagonalGaussian
from vaekit.errors import ConfigError, RunDirError, VaekitWarning, first_line
from vaekit.evaluation.latent import active_units, kl_per_dimension
from vaekit.generation.encode import encode_split
from vaekit.objectives import ObjectiveConfig
from vaekit.objectives.registry import READS
from vaekit.objectives.schedules import capacity, kl_weight
from vaekit.run.layout import IMAGES
from vaekit.runtime.files import atomic_write_bytes
from vaekit.training import TrainConfig
from vaekit.training.schedules import learning_rate

KL_EXAMPLES = 2000  # validation examples encoded for the KL of each dimension (posterior means: no noise drawn)

DIRECTORY = "tensorboard"
MLFLOW_DIRECTORY = "mlflow"
EXPERIMENT = "vaekit"
GRIDS = ("samples", "reconstructions")


def check_available(tool: str = "tensorboard") -> None:
    """A clear error before training when the --tensorboard or --mlflow package is missing."""
    try:
        if tool == "tensorboard":
            import tensorboard  # noqa: F401
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        else:
            import alembic  # noqa: F401 -- the SQLite store's schema migrations
            import mlflow  # noqa: F401
            import sqlalchemy  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"--{tool} needs the {e.name or tool} package, which is not installed: pip install 'vaekit[{tool}]'") from None


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


def _kl_schedule(objective: str, config: ObjectiveConfig, step: int, total: int) -> dict[str, float]:
    """The KL weight (or capacity target) the objective used at ``step``, where it reads the KL options."""
    if "kl_warmup_steps" not in READS.get(objective, set()):
        return {}
    if config.capacity is not None:
        return {"train/capacity": capacity(step, config.capacity, config.capacity_steps)}
    return {"train/kl_weight": config.beta * kl_weight(step, total, config.kl_warmup_steps, config.kl_cycles, config.kl_cycle_ratio)}


@torch.no_grad()
def _kl_per_dimension(model: Any, valid: InMemoryDataset | None) -> tuple[torch.Tensor, int] | None:
    """Each latent dimension's mean KL on (the first KL_EXAMPLES of) the validation split, where it splits over
    dimensions, and the number of active units there."""
    if valid is None or not len(valid) or not model.has_prior or model.deterministic:
        return None
    was_training = model.training
    codes = encode_split(model, valid.head(KL_EXAMPLES))
    model.train(was_training)
    if codes.logvar is None or not isinstance(model.prior(1, like=codes.mu), DiagonalGaussian):
        return None
    return kl_per_dimension(codes.mu.double(), codes.logvar.double()).cpu(), active_units(codes.mu)


class Log(Protocol):
    """Where one epoch's values go."""

    def write(self, epoch: int, scalars: dict[str, float], histograms: dict[str, torch.Tensor], images: dict[str, np.ndarray]) -> None: ...


class TensorBoardLog:
    """``RUN/tensorboard/`` through TensorBoard's writer (see the module docstring)."""

    def __init__(self, run_dir: Path, first_epoch: int, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        self.writer = SummaryWriter(str(run_dir / DIRECTORY), purge_step=first_epoch)
        if first_epoch == 1:  # the run's first epoch: its configuration, once
            experiment, start, end = hparams(_flat(config), {"valid/loss": 0.0})
            for summary in (experiment, start, end):
                self.writer.file_writer.add_summary(summary)
            self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)

    def write(self, epoch: int, scalars: dict[str, float], histograms: dict[str, torch.Tensor], images: dict[str, np.ndarray]) -> None:
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, epoch)
        for tag, values in histograms.items():
            self.writer.add_histogram(tag, values, epoch)
        for tag, image in images.items():
            self.writer.add_image(tag, image, epoch, dataformats="HWC")
        self.writer.flush()


class MLflowLog:
    """``RUN/mlflow/``: an MLflow run in a SQLite store inside the run directory (see the module docstring)."""

    def __init__(self, run_dir: Path, first_epoch: int, config: dict[str, Any]) -> None:
        from mlflow.entities import Metric, Param

        self.metric = Metric
        root = (run_dir / MLFLOW_DIRECTORY).resolve()
        root.mkdir(parents=True, exist_ok=True)
        self.client = _mlflow_client(root / "mlflow.db")
        found = self.client.get_experiment_by_name(EXPERIMENT)
        experiment = found.experiment_id if found else self.client.create_experiment(EXPERIMENT, artifact_location=str(root / "artifacts"))
        previous = self._previous(root)
        logged = self._history(previous) if previous else {}
        if previous and all(m.step < first_epoch for values in logged.values() for m in values):
            self.run_id = previous  # a clean resume (or the same process): carry on in the same MLflow run
        else:
            self.run_id = self.client.create_run(experiment, run_name=run_dir.name).info.run_id
            params = [Param(k, str(v)[:6000]) for k, v in _flat(config).items()]
            for start in range(0, len(params), 100):  # MLflow's batch limit
                self.client.log_batch(self.run_id, params=params[start : start + 100])
            if previous:  # values a stopped process logged past the checkpoint: keep the rest, drop the old run
                kept = [m for values in logged.values() for m in values if m.step < first_epoch]
                for start in range(0, len(kept), 1000):
                    self.client.log_batch(self.run_id, metrics=kept[start : start + 1000])
                for epoch in sorted({m.step for m in kept}):
                    for name, image in _grids(run_dir, epoch).items():
                        self.client.log_image(self.run_id, image, key=name, step=epoch)
                self.client.delete_run(previous)
            atomic_write_bytes(root / "run_id", (self.run_id + "\n").encode())
        self.client.log_text(self.run_id, json.dumps(config, indent=2), "config.json")

    def _previous(self, root: Path) -> str | None:
        path = root / "run_id"
        if not path.is_file():
            return None
        run_id = path.read_text().strip()
        try:
            found = self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 -- MLflow raises its own exception for an unknown id
            return None
        return run_id if found.info.lifecycle_stage == "active" else None

    def _history(self, run_id: str) -> dict[str, list[Any]]:
        keys = self.client.get_run(run_id).data.metrics
        return {key: self.client.get_metric_history(run_id, key) for key in keys}

    def write(self, epoch: int, scalars: dict[str, float], histograms: dict[str, torch.Tensor], images: dict[str, np.ndarray]) -> None:
        now = int(time.time() * 1000)
        metrics = [self.metric(tag, float(value), now, epoch) for tag, value in scalars.items()]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])
        for tag, image in images.items():  # MLflow has no histograms; the per-dimension scalars carry them
            self.client.log_image(self.run_id, image, key=tag, step=epoch)


def _mlflow_client(db: Path) -> Any:
    """An MLflow client on the SQLite store ``db``, without the store's "creating tables" chatter."""
    import logging

    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=f"sqlite:///{Path(db).resolve()}")


LOGS: dict[str, Callable[[Path, int, dict[str, Any]], Log]] = {"tensorboard": TensorBoardLog, "mlflow": MLflowLog}


def _grids(run_dir: Path, epoch: int) -> dict[str, np.ndarray]:
    """The sample and reconstruction grids written at ``epoch``, as (H, W, 3) uint8."""
    out = {}
    for name in GRIDS:
        path = run_dir / IMAGES / f"{name}_{epoch:04d}.png"
        if path.is_file():
            with Image.open(path) as image:
                out[name] = np.asarray(image.convert("RGB"))
    return out


def tracking_callback(
    run_dir: Path,
    train: TrainConfig,
    steps_per_epoch: Callable[[], int],
    objective: str = "",
    objective_config: ObjectiveConfig | None = None,
    valid: InMemoryDataset | None = None,
    tools: tuple[str, ...] = ("tensorboard",),
) -> Callable[[int, Any, dict[str, float]], None]:
    """The epoch-end callback that logs epoch ``e``'s line of metrics.jsonl (the trainer passes it), learning rate,
    KL schedule, KL per dimension and grids at step ``e`` to each of ``tools`` (tensorboard, mlflow).

    ``objective`` is the family's objective name (``MODELS[kind].objective``); ``valid`` the validation split.
    """
    for tool in tools:
        check_available(tool)
    if "mlflow" in tools:
        _check_mlflow_store(run_dir)
    logs: dict[str, Log] = {}
    opened = [False]

    def on_epoch_end(epoch: int, model: Any, metrics: dict[str, float]) -> None:
        if not opened[0]:  # opened on the first epoch this process logs (a resume opens at its first new epoch)
            opened[0] = True
            config = json.loads((run_dir / "config.json").read_text())
            for tool in tools:
                _guarded(logs, tool, epoch, lambda tool=tool: logs.__setitem__(tool, LOGS[tool](run_dir, epoch, config)))
        scalars: dict[str, float] = {}
        for key, value in metrics.items():
            split, _, term = key.partition("_")
            if split in ("train", "valid") and isinstance(value, int | float):
                scalars[f"{split}/{term}"] = value
        scalars["time/elapsed_s"] = metrics.get("elapsed_s", 0.0)
        total = steps_per_epoch() * (train.epochs or 1)
        step = int(metrics["step"]) - 1  # the epoch's last optimizer step
        scalars["train/lr"] = learning_rate(step, total, train.lr, train.lr_schedule, train.lr_warmup_steps)
        if objective_config is not None:
            scalars.update(_kl_schedule(objective, objective_config, step, total))
        histograms = {}
        found = _kl_per_dimension(model, valid)
        if found is not None:
            per_dimension, active = found
            scalars.update({f"kl_per_dimension/z{i:02d}": v for i, v in enumerate(per_dimension.tolist())})
            scalars["valid/active_units"] = active
            histograms["valid/kl_per_dimension"] = per_dimension
        grids = _grids(run_dir, epoch)
        for tool, log in list(logs.items()):
            _guarded(logs, tool, epoch, lambda log=log: log.write(epoch, scalars, histograms, grids))

    return on_epoch_end


def _guarded(logs: dict[str, Log], tool: str, epoch: int, action: Callable[[], None]) -> None:
    """Run a logger's ``action``; if it fails (a full disk, a store another program broke), say so on one
    line and stop that logger: training goes on, and metrics.jsonl still has every epoch."""
    try:
        action()
    except Exception as e:  # noqa: BLE001 -- a logger's failure must never stop or lose the run
        logs.pop(tool, None)
        warnings.warn(
            f"--{tool}: stopped logging at epoch {epoch} ({first_line(e)}); training goes on and RUN/metrics.jsonl has every epoch",
            VaekitWarning,
            stacklevel=2,
        )


def _check_mlflow_store(run_dir: Path) -> None:
    """Before training: an existing MLflow store in the run directory must open (one line if it does not)."""
    db = run_dir / MLFLOW_DIRECTORY / "mlflow.db"
    if not db.is_file():
        return
    try:
        _mlflow_client(db).get_experiment_by_name(EXPERIMENT)
    except Exception as e:  # noqa: BLE001 -- sqlalchemy and MLflow raise many types for a damaged store
        raise RunDirError(
            f"{db}: cannot open it as an MLflow store ({first_line(e)}); move the {MLFLOW_DIRECTORY}/ folder aside and run again "
            "(a fresh MLflow log starts)"
        ) from None
