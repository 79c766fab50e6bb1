"""How much memory a model needs, estimated before it is built: parameters, optimizer state and
the activations of one batch.

The model is built and run once on PyTorch's ``meta`` device, where tensors have shapes but no
storage, so a configuration of any size (a hidden layer of 10^7 units, a codebook of 10^9
vectors) costs nothing to measure. Every module's outputs are summed; that is what autograd keeps
for the backward pass, and about what its gradients take again.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaekit.models.config import ModelConfig
from vaekit.models.registry import build_model
from vaekit.runtime import memory

FLOAT = 4  # bytes of a float32


def _activation_bytes(model: nn.Module, config: ModelConfig, batch: int) -> int:
    total = 0

    def count(module: nn.Module, inputs: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel() * output.element_size()

    handles = [m.register_forward_hook(count) for m in model.modules()]
    try:
        x = torch.zeros(batch, *config.input_shape)  # (B, C, H, W) on meta
        condition = torch.zeros(batch, config.condition_dim) if config.condition_dim else None
        with torch.no_grad():
            model(x, None, condition)
    except (RuntimeError, NotImplementedError, TypeError):  # an op without a meta kernel: count the parameters only
        return 0
    finally:
        for h in handles:
            h.remove()
    return total + batch * math.prod(config.input_shape) * FLOAT


def footprint(config: ModelConfig, batch: int, training: bool) -> tuple[int, int]:
    """(parameter and buffer bytes, bytes needed in all) for the model of ``config`` at ``batch``
    examples; training counts the gradients, Adam's two moments and the backward pass too."""
    config = config.for_data(config.input_shape)
    with torch.device("meta"):
        model = build_model(config)
        weights = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
        activations = _activation_bytes(model, config, batch)
    if training:
        return weights, 4 * weights + 2 * activations  # weights, grads, 2 Adam moments; activations + their grads
    return weights, weights + activations


def require_fits(config: ModelConfig, batch: int, training: bool, device: str | torch.device = "cpu", what: str | None = None) -> None:
    """A ConfigError, before anything is allocated, when the model of ``config`` would not fit."""
    weights, needed = footprint(config, batch, training)
    memory.require(
        needed,
        what or f"this model ({memory.human(weights)} of weights) at batch {batch}",
        "use smaller --hidden / --width / --latent-dim / --codebook-size / --samples, or a smaller --batch-size",
        device,
    )


def rows_that_fit(config: ModelConfig, most: int, device: str | torch.device = "cpu", share: float = 0.5) -> int:
    """The largest power-of-two batch, up to ``most``, whose evaluation footprint (no gradients) fits in
    ``share`` of the free memory of ``device``; at least 1 (``require_fits`` says when even that is too much)."""
    free = memory.available_bytes(device)
    if free is None:
        return most
    rows = most
    while rows > 1 and footprint(config, rows, training=False)[1] > share * free:
        rows //= 2
    return rows
