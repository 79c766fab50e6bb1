"""A run's ``config.json``: read, and every section validated into its config dataclass.

A damaged or hand-edited file (not JSON, a null section, a string where a number belongs, a
negative size, an unknown field) is one ``RunDirError`` that names the file and the field, before
anything is built from it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

from vaekit.data.config import DataConfig
from vaekit.errors import RunDirError, VaekitError
from vaekit.models.config import ModelConfig
from vaekit.run.layout import CONFIG
from vaekit.runtime.files import atomic_write_json

T = TypeVar("T")
MAX_BYTES = 1 << 20  # a real config.json is about 2 KB


def config_to_dict(config: Any) -> dict[str, Any]:
    """A (nested) config dataclass as JSON-ready values (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def config_from_dict(cls: type[T], values: Any, where: Path, section: str) -> T:
    """Rebuild a frozen config dataclass from the JSON object of ``section``; unknown keys, wrong
    types and invalid values are errors that name the file and the section."""
    if not isinstance(values, dict):
        raise RunDirError(f"{where}: section '{section}' is {json.dumps(values)}, not an object of settings; the run's config is damaged")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise RunDirError(f"{where}: unknown {section} field(s) {sorted(unknown)}; was this run made by a newer vaekit?")
    try:
        return cls(**values)  # the dataclass checks every field (lists become tuples, strings Paths)
    except VaekitError as e:
        raise RunDirError(f"{where}: invalid '{section}' section: {e}; fix the file or train again") from None


def read_config(run_dir: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a run; a clear error when ``run_dir`` is not a run."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory; pass the --out directory of a `vaekit train` run")
    if not path.is_file():
        raise RunDirError(f"{run_dir}: not a vaekit run (no {CONFIG}); pass the --out directory of a `vaekit train` run")
    if path.stat().st_size > MAX_BYTES:
        raise RunDirError(f"{path}: {path.stat().st_size:,} bytes is far too large for a run's config; the file is damaged")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RunDirError(f"{path}: cannot parse ({type(e).__name__}: {e}); the run's config is damaged") from None
    if not isinstance(config, dict) or "model" not in config:
        raise RunDirError(f"{path}: has no 'model' section; this is not a vaekit run config")
    return config


def section(run_dir: Path, cls: type[T], name: str) -> T:
    """One validated section of a run's config (``data``, ``model``, ...); a missing one has the defaults."""
    return config_from_dict(cls, read_config(run_dir).get(name, {}), Path(run_dir) / CONFIG, name)


def model_config(run_dir: Path) -> ModelConfig:
    config = section(run_dir, ModelConfig, "model")
    if config.input_shape is None:
        raise RunDirError(f"{Path(run_dir) / CONFIG}: the model section has no input_shape; the run's config is damaged")
    return config


def data_config(run_dir: Path) -> DataConfig:
    return section(run_dir, DataConfig, "data")


def world_size(run_dir: Path) -> int:
    """How many processes trained the run (torchrun); 1 when not recorded."""
    value = read_config(run_dir).get("world_size", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RunDirError(
            f"{Path(run_dir) / CONFIG}: world_size is {json.dumps(value)}, not a positive integer; the run's config is damaged"
        )
    return value


def write_config(run_dir: Path, config: Any, world: int) -> None:
    """config.json: the configuration, the vaekit version and the number of processes that train (torchrun)."""
    atomic_write_json(Path(run_dir) / CONFIG, {"vaekit_version": _version(), "world_size": world, **config_to_dict(config)})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vaekit")
    except PackageNotFoundError:
        return "unknown"
