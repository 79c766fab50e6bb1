"""KL weights that change over training, as pure functions of the step (so resuming needs no state)."""

from __future__ import annotations


def kl_weight(step: int | None, total: int, warmup_steps: int = 0, cycles: int = 0, cycle_ratio: float = 0.5) -> float:
    """Multiplier of β at ``step`` (1 at the end of training, or when ``step`` is None).

    - Warm-up (Bowman et al. 2016; Sønderby et al. 2016): rises linearly from 0 to 1 over
      ``warmup_steps``.
    - Cyclical annealing (Fu et al. 2019): ``cycles`` cycles over ``total`` steps; within each, it
      rises linearly over the first ``cycle_ratio`` of the cycle, then stays at 1.
    """
    if step is None:
        return 1.0
    weight = 1.0
    if warmup_steps > 0:
        weight = min(weight, step / warmup_steps)
    if cycles > 0 and total > 0:
        period = total / cycles
        position = (step % period) / period  # in [0, 1)
        weight = min(weight, position / cycle_ratio)
    return min(1.0, weight)


def capacity(step: int | None, max_capacity: float, capacity_steps: int) -> float:
    """The KL target C of Burgess et al. (2018): 0 rising linearly to ``max_capacity`` nats."""
    if step is None or capacity_steps <= 0:
        return max_capacity
    return max_capacity * min(1.0, step / capacity_steps)
