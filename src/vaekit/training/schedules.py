"""The learning rate over training, a pure function of the step (so resuming needs no state)."""

from __future__ import annotations

import math

from vaekit.errors import lookup

SCHEDULES = {"constant": "constant", "cosine": "cosine"}


def learning_rate(step: int, total: int, base: float, schedule: str = "constant", warmup_steps: int = 0) -> float:
    """Learning rate at ``step``: linear warm-up, then constant or cosine decay to 0 (Loshchilov & Hutter 2017)."""
    lookup(SCHEDULES, schedule, "--lr-schedule")
    if warmup_steps > 0 and step < warmup_steps:
        return base * (step + 1) / warmup_steps
    if schedule == "cosine" and total > warmup_steps:
        progress = (step - warmup_steps) / (total - warmup_steps)
        return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return base
