"""``RunConfig``: everything a run is made of (data, model, objective, training), saved as the
run's ``config.json``; the starting point of ``--model`` / ``--preset``; and reading it back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vaekit.data import DataConfig
from vaekit.errors import ConfigError, RunDirError
from vaekit.models import MODELS, PRESETS, ModelConfig, resolve_model_config
from vaekit.objectives import ObjectiveConfig
from vaekit.run.config import config_from_dict, read_config
from vaekit.run.layout import CONFIG
from vaekit.training import TrainConfig

SECTIONS = {"data": DataConfig, "model": ModelConfig, "objective": ObjectiveConfig, "train": TrainConfig}


@dataclass(frozen=True)
class RunConfig:
    """Everything a run is made of; saved as ``config.json``."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    train: TrainConfig = TrainConfig()
    preset: str | None = None

    def __post_init__(self) -> None:
        for name, cls in SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"RunConfig.{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"unknown preset '{self.preset}'; choose one of: {', '.join(PRESETS)}")


def preset_run_config(model: str | None = None, preset: str | None = None) -> RunConfig:
    """The starting point of ``--model`` and/or ``--preset``: the family's objective defaults, and a
    recipe preset's dataset, objective and training settings."""
    model_config = resolve_model_config(model, preset)
    recipe = PRESETS[preset] if preset is not None else None
    objective = ObjectiveConfig(**(MODELS[model_config.kind].objective_defaults | (recipe.objective if recipe else {})))
    train = TrainConfig(**(recipe.train if recipe else {}))
    data = DataConfig(name=recipe.data, **recipe.data_options) if recipe is not None and recipe.data is not None else DataConfig()
    return RunConfig(data, model_config, objective, train, preset)


def read_run_config(run_dir: Path) -> RunConfig:
    """The ``RunConfig`` saved in a run directory, every section validated (see ``vaekit.run.config``)."""
    values, where = read_config(run_dir), Path(run_dir) / CONFIG
    parts = {name: config_from_dict(cls, values.get(name, {}), where, name) for name, cls in SECTIONS.items()}
    preset = values.get("preset")
    if preset is not None and preset not in PRESETS:
        raise RunDirError(f"{where}: preset {preset!r} is not one of {', '.join(PRESETS)}; the run's config is damaged")
    return RunConfig(**parts, preset=preset)
