"""Network builders shared by the model families, and the decoder's likelihood head."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from vaekit.distributions import Bernoulli, Gaussian, Likelihood

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh, "leaky-relu": nn.LeakyReLU}
MIN_LOGVAR = 2.0 * math.log(1e-3)  # learned output std floor: keeps a Gaussian density finite on constant pixels


def mlp(sizes: Sequence[int], activation: str, final_activation: str | None = None) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between them.

    The module indices match a hand-written ``nn.Sequential(Linear, ReLU, Linear, ...)``, so the
    seed's state-dict keys (``encoder.0.weight``, ``encoder.2.weight``...) load unchanged.
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    if final_activation is not None:
        layers.append(ACTIVATIONS[final_activation]())
    return nn.Sequential(*layers)


class LikelihoodHead(nn.Module):
    """Turns the decoder's raw output into p(x|z).

    Bernoulli: the raw output is the logits. Gaussian: the mean is ``sigmoid(raw)`` for data in
    [0, 1] (the seed's sigmoid output layer) or ``raw`` itself; the variance is fixed at
    ``gaussian_std**2`` or learned per output dimension.
    """

    def __init__(self, kind: str, data_shape: tuple[int, ...], output_activation: str, gaussian_std: float, learn_variance: bool):
        super().__init__()
        self.kind = kind
        self.data_shape = tuple(data_shape)
        self.sigmoid_mean = output_activation == "sigmoid"
        init = torch.full(self.data_shape, 2.0 * math.log(gaussian_std))  # (C, H, W)
        if learn_variance:
            self.logvar = nn.Parameter(init)
        else:
            self.register_buffer("logvar", init[(0,) * len(self.data_shape)].clone(), persistent=False)

    def forward(self, raw: torch.Tensor) -> Likelihood:
        out = raw.reshape(*raw.shape[:-1], *self.data_shape)  # (..., C, H, W)
        dims = len(self.data_shape)
        if self.kind == "bernoulli":
            return Bernoulli(out, data_dims=dims)
        mean = torch.sigmoid(out) if self.sigmoid_mean else out
        return Gaussian(mean, self.logvar.clamp(min=MIN_LOGVAR), data_dims=dims)
