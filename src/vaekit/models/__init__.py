"""Models: ``config.py`` (what to build), ``registry.py`` (families and presets), one file per family,
``networks.py`` (MLP / conv / resnet bodies and the likelihood head)."""

from vaekit.models.base import LatentModel
from vaekit.models.config import ModelConfig
from vaekit.models.registry import MODELS, PRESETS, ModelSpec, Preset, build_model, check_model_options, resolve_model_config

__all__ = [
    "MODELS",
    "PRESETS",
    "LatentModel",
    "ModelConfig",
    "ModelSpec",
    "Preset",
    "build_model",
    "check_model_options",
    "resolve_model_config",
]
