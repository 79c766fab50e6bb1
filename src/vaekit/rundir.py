"""The run directory: the one place that knows its file names, and atomic writes for all of them.

Layout::

    RUN/config.json                 everything needed to rebuild the model and data (JSON)
    RUN/model.safetensors           latest weights
    RUN/best.safetensors            weights with the best validation loss
    RUN/training_state.safetensors  weights + optimizer + RNG + progress, for --resume (one file)
    RUN/metrics.jsonl               one JSON line per epoch
    RUN/images/                     sample and reconstruction grids written during training

Loading never unpickles code: safetensors and JSON only. ``evaluation`` and ``generation`` load
runs through here and never import ``training``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

import safetensors.torch
import torch

from vaekit.errors import RunDirError
from vaekit.models import LatentModel, ModelConfig, build_model

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
BEST = "best.safetensors"
STATE = "training_state.safetensors"
METRICS = "metrics.jsonl"
IMAGES = "images"

T = TypeVar("T")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``.

    A reader (or a run killed half-way) sees the old file or the new one, never a torn one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the mode a plain open() would
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save tensors as safetensors, atomically."""
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write_bytes(path, safetensors.torch.save(flat, metadata=metadata))


def load_tensors(path: Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a safetensors file."""
    try:
        with safetensors.safe_open(str(path), framework="pt", device=str(device)) as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except (OSError, ValueError, RuntimeError, safetensors.SafetensorError) as e:
        raise RunDirError(f"{path}: cannot read ({e}); the file is damaged, train again or restore it") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def _from_json(value: Any, hint: Any) -> Any:
    """JSON value -> the field's type: lists become tuples, strings become Paths where declared."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, str) and (hint is Path or Path in typing.get_args(hint)):
        return Path(value)
    return value


def config_from_dict(cls: type[T], values: dict[str, Any], where: Path) -> T:
    """Rebuild a frozen config dataclass from JSON; unknown keys are errors."""
    hints = typing.get_type_hints(cls)
    unknown = set(values) - set(hints)
    if unknown:
        raise RunDirError(f"{where}: unknown {cls.__name__} field(s) {sorted(unknown)}; was this run made by a newer vaekit?")
    return cls(**{k: _from_json(v, hints[k]) for k, v in values.items()})


def read_config(run_dir: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a run; a clear error when ``run_dir`` is not a run."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory; pass the --out directory of a `vaekit train` run")
    if not path.is_file():
        raise RunDirError(f"{run_dir}: not a vaekit run (no {CONFIG}); pass the --out directory of a `vaekit train` run")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path}: cannot parse ({e}); the run's config is damaged") from None
    if not isinstance(config, dict) or "model" not in config:
        raise RunDirError(f"{path}: has no 'model' section; this is not a vaekit run config")
    return config


def model_config(run_dir: Path) -> ModelConfig:
    return config_from_dict(ModelConfig, read_config(run_dir)["model"], Path(run_dir) / CONFIG)


def load(run_dir: str | Path, weights: Literal["best", "last"] = "best", device: str | torch.device = "cpu") -> LatentModel:
    """The trained model of a run, in eval mode.

    Args:
        run_dir: a directory written by ``vaekit train``.
        weights: 'best' (best validation loss; falls back to the latest) or 'last'.
        device: where to put the model.
    """
    run_dir = Path(run_dir)
    model = build_model(model_config(run_dir))
    candidates = [run_dir / BEST, run_dir / WEIGHTS] if weights == "best" else [run_dir / WEIGHTS]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise RunDirError(f"{run_dir}: has no saved weights yet ({WEIGHTS}); resume the run with `vaekit train --resume {run_dir}`")
    tensors, _ = load_tensors(path)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        raise RunDirError(f"{path}: weights do not fit the model in {CONFIG} ({str(e).splitlines()[0]})") from None
    return model.to(device).eval()
