"""vaekit: autoencoders and variational autoencoders on real data, with honest likelihoods.

The public API, one name per line. Names are imported when first used, so ``import vaekit.types``
(or any one module) does not import the whole package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {  # name -> the module that defines it
    "DATASETS": "vaekit.data",
    "MODELS": "vaekit.models",
    "PRESETS": "vaekit.models",
    "Bernoulli": "vaekit.distributions",
    "ConfigError": "vaekit.errors",
    "DataConfig": "vaekit.data",
    "DataError": "vaekit.errors",
    "DiagonalGaussian": "vaekit.distributions",
    "Gaussian": "vaekit.distributions",
    "ModelConfig": "vaekit.models",
    "ObjectiveConfig": "vaekit.objectives",
    "PointMass": "vaekit.distributions",
    "Report": "vaekit.evaluation",
    "RunConfig": "vaekit.commands",
    "RunDirError": "vaekit.errors",
    "TrainConfig": "vaekit.training",
    "TrainingDiverged": "vaekit.errors",
    "VaekitError": "vaekit.errors",
    "attribute_run": "vaekit.commands",
    "benchmark_run": "vaekit.commands",
    "build_model": "vaekit.models",
    "decode_run": "vaekit.commands",
    "elbo_loss": "vaekit.objectives",
    "encode_run": "vaekit.commands",
    "evaluate": "vaekit.evaluation",
    "evaluate_run": "vaekit.commands",
    "fit_sampler_run": "vaekit.commands",
    "interpolate_run": "vaekit.commands",
    "iwae_bound": "vaekit.objectives",
    "kl_divergence": "vaekit.objectives",
    "latent_map_run": "vaekit.commands",
    "load": "vaekit.run",
    "load_sampler": "vaekit.run",
    "load_dataset": "vaekit.data",
    "read_run_config": "vaekit.commands",
    "reconstruct": "vaekit.generation",
    "reconstruct_run": "vaekit.commands",
    "report_run": "vaekit.commands",
    "resume": "vaekit.commands",
    "sample": "vaekit.generation",
    "sample_run": "vaekit.commands",
    "train": "vaekit.commands",
    "traverse_run": "vaekit.commands",
    "tune_allocator": "vaekit.runtime.allocator",
}
_MODULES = {  # modules reachable as attributes: vaekit.distributed.shutdown(wait=True) in a torchrun script
    "distributed": "vaekit.runtime.distributed",
}

__all__ = [*_EXPORTS, *_MODULES]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'vaekit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
