"""Training: a generic loop over an objective's signature; it does not know what a VAE is.

``config.py`` (the loop's settings), ``trainer.py``, ``checkpoint.py`` (the resumable state),
``precision.py`` (autocast), ``schedules.py`` (the learning rate), ``device.py``, ``progress.py``.
"""

from vaekit.training.checkpoint import Progress
from vaekit.training.config import TrainConfig
from vaekit.training.device import resolve_device
from vaekit.training.schedules import learning_rate
from vaekit.training.trainer import Trainer, TrainResult

__all__ = ["Progress", "TrainConfig", "TrainResult", "Trainer", "learning_rate", "resolve_device"]
