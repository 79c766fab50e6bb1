"""The optimisation loop's settings (``TrainConfig``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vaekit.errors import ConfigError
from vaekit.runtime.checks import check_fields


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop."""

    epochs: int | None = None
    """Epochs to train (total, also with --resume); default per dataset (digits 200, MNIST family 10)."""
    batch_size: int = 128
    """Examples per optimizer step (under torchrun: per process; a step then sees batch-size x processes examples)."""
    lr: float = 1e-3
    """Adam learning rate."""
    seed: int = 0
    """Seed for initialisation, data order and all sampling."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """Where to train: auto picks cuda, then mps, then cpu (under torchrun: each process's own GPU)."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Arithmetic of the model's forward pass: fp32, or bf16 / fp16 autocast (losses and weights stay float32; fp16 adds
    a gradient scaler). Faster on GPUs; numbers differ from fp32 by the rounding."""
    compile: bool = False
    """Compile the model's networks with torch.compile (the first steps of each batch shape pay the compilation).
    Results equal eager's to float32 rounding; where it cannot run (no C++ compiler, a double-backward penalty), the
    run says why and trains eager. On this CPU it gains 2-3 % at best: the fast recipe here is --precision bf16."""
    tensorboard: bool = False
    """Log each epoch's terms, learning rate, image grids and the config to RUN/tensorboard/ (needs vaekit[tensorboard])."""
    mlflow: bool = False
    """Log the same to an MLflow run in RUN/mlflow/ (a SQLite store: mlflow ui --backend-store-uri sqlite:///RUN/mlflow/mlflow.db;
    needs vaekit[mlflow])."""
    log_every: int = 50
    """Steps between reading the loss back from the device (progress bar, NaN check)."""
    progress: bool = True
    """Show progress: a bar on a terminal, else (piped, in CI) plain lines every few epochs and every 30 s."""
    checkpoint_every_s: float = 60.0
    """Seconds between checkpoints at epoch ends (the last epoch and any stop always checkpoint)."""
    grad_clip: float | None = None
    """Clip the gradient's global L2 norm to this value (off when unset)."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """Learning rate after warm-up: constant, or cosine decay to 0 at the last step."""
    lr_warmup_steps: int = 0
    """Raise the learning rate linearly over this many first steps."""
    patience: int | None = None
    """Early stopping: stop after this many epochs without a better validation loss."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("epochs", "batch_size", "log_every", "patience"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"--grad-clip must be positive, got {self.grad_clip}")
        if self.lr_warmup_steps < 0:
            raise ConfigError(f"--lr-warmup-steps must be 0 or more, got {self.lr_warmup_steps}")
        if not self.checkpoint_every_s >= 0:
            raise ConfigError(f"--checkpoint-every-s must be 0 or more, got {self.checkpoint_every_s}")
