"""vaekit: autoencoders and variational autoencoders on real data, with honest likelihoods."""

from vaekit.allocator import tune_allocator
from vaekit.data import DATASETS, DataConfig, load_dataset
from vaekit.distributions import Bernoulli, DiagonalGaussian, Gaussian, PointMass
from vaekit.errors import ConfigError, DataError, RunDirError, TrainingDiverged, VaekitError
from vaekit.evaluation import Report, evaluate
from vaekit.experiment import RunConfig, evaluate_run, read_run_config, reconstruct_run, resume, sample_run, train
from vaekit.generation import reconstruct, sample
from vaekit.models import MODELS, PRESETS, ModelConfig, build_model
from vaekit.objectives import ObjectiveConfig, elbo_loss, iwae_bound, kl_divergence
from vaekit.rundir import load
from vaekit.training import TrainConfig

__all__ = [
    "DATASETS",
    "MODELS",
    "PRESETS",
    "Bernoulli",
    "ConfigError",
    "DataConfig",
    "DataError",
    "DiagonalGaussian",
    "Gaussian",
    "ModelConfig",
    "ObjectiveConfig",
    "PointMass",
    "Report",
    "RunConfig",
    "RunDirError",
    "TrainConfig",
    "TrainingDiverged",
    "VaekitError",
    "build_model",
    "elbo_loss",
    "evaluate",
    "evaluate_run",
    "iwae_bound",
    "kl_divergence",
    "load",
    "load_dataset",
    "read_run_config",
    "reconstruct",
    "reconstruct_run",
    "resume",
    "sample",
    "sample_run",
    "train",
    "tune_allocator",
]
