"""The run directory: its file names (``layout``), its config.json read and validated (``config``),
and loading a run's model and data (``loading``); its metrics log is written and read whole-line by
``runtime.files``. Evaluation and generation load runs through here and never import training."""

from vaekit.run.config import data_config, model_config, read_config, world_size
from vaekit.run.loading import SPLITS, load, load_split, load_splits

__all__ = ["SPLITS", "data_config", "load", "load_split", "load_splits", "model_config", "read_config", "world_size"]
