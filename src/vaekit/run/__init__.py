"""The run directory: its file names (``layout``), its config.json read and validated (``config``),
its metrics log (``metrics``), and loading a run's model and data (``load``). Evaluation and
generation load runs through here and never import training."""

from vaekit.run.config import data_config, model_config, read_config, world_size
from vaekit.run.load import load, load_split, load_splits

__all__ = ["data_config", "load", "load_split", "load_splits", "model_config", "read_config", "world_size"]
