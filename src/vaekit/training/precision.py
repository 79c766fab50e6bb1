"""Mixed precision for the training step: autocast for the model, float32 for every loss.

``--precision bf16`` or ``fp16`` runs the model's forward under ``torch.autocast`` (matrix products
and convolutions in the low precision, weights and optimizer state in float32). The model's
outputs are widened back to float32 before the objective sees them: a sum of 784 per-pixel terms
rounded to bf16 keeps about 3 significant digits (105.5 nats +- 0.5), which is not a loss anyone
should read. fp16 adds a gradient scaler, since its gradients underflow without one (Micikevicius
et al. 2018, "Mixed precision training").
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import torch

from vaekit.errors import ConfigError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_supported(precision: str, device: torch.device) -> None:
    """A clear error when this PyTorch cannot autocast to ``precision`` on ``device``."""
    if precision == "fp32":
        return
    dtype = DTYPES[precision]
    if not torch.amp.autocast_mode.is_autocast_available(device.type):
        raise ConfigError(f"--precision {precision}: this PyTorch has no autocast for {device.type}; use --precision fp32")
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ConfigError("--precision bf16: this GPU has no bfloat16 support; use --precision fp16 (or fp32)")
    try:
        with torch.autocast(device.type, dtype=dtype):
            torch.zeros(2, 2, device=device) @ torch.zeros(2, 2, device=device)
    except (RuntimeError, AssertionError) as e:
        raise ConfigError(
            f"--precision {precision} is not supported on {device.type} by this PyTorch ({e}); use --precision fp32"
        ) from None


def widen(obj: Any) -> Any:
    """``obj`` with every float16 / bfloat16 tensor in it (through nested frozen dataclasses) as float32."""
    if isinstance(obj, torch.Tensor):
        return obj.float() if obj.dtype in (torch.float16, torch.bfloat16) else obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: widen(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        if any(changes[k] is not getattr(obj, k) for k in changes):
            return dataclasses.replace(obj, **changes)
    return obj


class Precision:
    """The autocast context and gradient scaler of one training run (both inert for fp32)."""

    def __init__(self, precision: str, device: torch.device):
        check_supported(precision, device)
        self.name, self.device = precision, device
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.name])

    def state(self) -> dict[str, Any]:
        """The scaler's state for a checkpoint ({} when no scaler is used)."""
        return self.scaler.state_dict() if self.scaler.is_enabled() else {}

    def load_state(self, state: dict[str, Any]) -> None:
        if state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state)
