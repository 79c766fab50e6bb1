"""The run directory: its file names (``layout``), its config.json read and validated (``config``),
loading a run's model and data (``loading``) and its fitted samplers (``samplers``); its metrics log is written and read whole-line by
``runtime.files``. Evaluation and generation load runs through here and never import training."""

from vaekit.run.config import data_config, model_config, read_config, world_size
from vaekit.run.loading import SPLITS, load, load_split, load_splits
from vaekit.run.samplers import load_sampler, sampler_info, save_sampler, two_stage_dir

__all__ = [
    "SPLITS",
    "data_config",
    "load",
    "load_sampler",
    "load_split",
    "load_splits",
    "model_config",
    "read_config",
    "sampler_info",
    "save_sampler",
    "two_stage_dir",
    "world_size",
]
