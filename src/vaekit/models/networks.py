"""Network builders shared by the model families, and the decoder's likelihood head."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from vaekit.distributions import (
    COUNT_LIKELIHOODS,
    Bernoulli,
    ContinuousBernoulli,
    DiscretizedLogistic,
    Gaussian,
    Likelihood,
    NegativeBinomial,
    Poisson,
    ZeroInflatedNegativeBinomial,
)
from vaekit.errors import ConfigError, lookup

if TYPE_CHECKING:
    from vaekit.models.config import ModelConfig

ACTIVATIONS = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "leaky-relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
}
# Convolution weights and activations are kept channels_last (NHWC): oneDNN's convolutions run on it
# without reordering, 1.04-1.12x faster for a training step of the conv VAE on this CPU with the same
# results to float32 rounding (bench/conv_speed.py, bench/README.md). Checkpoints store the plain
# contiguous layout (runtime.files.save_tensors), so files do not depend on it.
MEMORY_FORMAT = torch.channels_last
MIN_LOGVAR = 2.0 * math.log(1e-3)  # learned output std floor: keeps a Gaussian density finite on constant pixels
MIN_LOG_SCALE = math.log(1e-4)  # logistic scale floor: far below one 8-bit level (1/255)


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


def with_condition(h: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    """h (..., F) with the condition (B, Y) appended as features, broadcast over leading K dims."""
    if condition is None:
        return h
    return torch.cat([h, condition.expand(*h.shape[:-1], condition.shape[-1])], dim=-1)  # (..., F + Y)


class FlatMLP(nn.Sequential):
    """An ``mlp`` that flattens (B, C, H, W) inputs first (and appends a condition, if any); its
    state-dict keys are the plain MLP's. ``log_input``: it sees log(1 + x), as count models' encoders
    do (scVI): raw counts span orders of magnitude."""

    def __init__(self, *layers: nn.Module, log_input: bool = False):
        super().__init__(*layers)
        self.log_input = log_input

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        x = torch.log1p(x) if self.log_input else x
        return super().forward(with_condition(x.flatten(1), condition))  # (B, C*H*W [+ Y]) -> (B, out)


def conv_sizes(height: int, width: int, depth: int | None) -> list[tuple[int, int]]:
    """Feature-map sizes after each stride-2 stage, input first: [(H, W), (H/2, W/2), ...].

    Each 4x4, stride-2, padding-1 convolution maps a side s to floor(s / 2). With ``depth`` None,
    stages are added until the smaller side is at most 4 (8x8 -> 4x4, 28x28 -> 3x3, 256x256 -> 4x4).
    """
    sizes = [(height, width)]
    while (depth is None and min(sizes[-1]) > 4) or (depth is not None and len(sizes) <= depth):
        h, w = sizes[-1]
        if min(h, w) < 2:
            raise ConfigError(f"--depth {depth} halves a {height}x{width} image below 1 pixel; use a smaller --depth")
        sizes.append((h // 2, w // 2))
    return sizes


def _channels(width: int, stages: int, channels: Sequence[int] = ()) -> list[int]:
    """Channels of each stage: ``channels`` as given, else doubling from ``width``, capped at 8x."""
    return list(channels) if channels else [width * min(2**i, 8) for i in range(stages)]


def _dense(sizes: Sequence[int], activation: str) -> nn.Sequential:
    """Linear layers each followed by ``activation`` (empty: the identity)."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


class ImageTransposedConv(nn.ConvTranspose2d):
    """A conv decoder's last stage, ``ConvTranspose2d(C_in, C, 4, stride=2, padding=1)``, whose few
    output channels are the image's.

    oneDNN runs a transposed convolution to one channel at a few GFLOP/s on this CPU (its kernels
    are built for many channels). Without gradients (evaluation, sampling, the K = 5000 bound) a
    grey image's layer is computed here instead as one matrix product of each input pixel with the
    16 taps, (N*H*W, C_in) @ (C_in, 16*C), and four shifted adds of the taps into the output: the
    same sums to float32 rounding, 2-3x faster for C = 1 (``bench/transposed_conv.py``; even at
    C = 2, slower for RGB). Training uses the library's layer, whose backward is faster. The
    parameters are nn.ConvTranspose2d's, so checkpoints do not change.
    """

    MAX_CHANNELS = 1  # where the product wins (bench/transposed_conv.py): grey images
    enabled = True  # a switch for the bench's A/B rounds

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        plain = (self.kernel_size, self.stride, self.padding, self.dilation, self.groups) == ((4, 4), (2, 2), (1, 1), (1, 1), 1)
        grad = torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)
        if grad or not (self.enabled and plain and output_size is None and self.out_channels <= self.MAX_CHANNELS and x.dim() == 4):
            return super().forward(x, output_size)
        n, c_in, h, w = x.shape
        c = self.out_channels
        # weight (C_in, C, ky, kx) with ky = 2 * sy + a: tap (ky, kx) of input pixel (i, j) lands on the
        # output pixel (2 (i + sy) + a - 1, 2 (j + sx) + b - 1), so the taps are grouped by the shift (sy, sx)
        taps = self.weight.reshape(c_in, c, 2, 2, 2, 2).permute(0, 2, 4, 3, 5, 1).reshape(c_in, 16 * c)  # (C_in, sy sx a b C)
        cols = (x.permute(0, 2, 3, 1).reshape(-1, c_in) @ taps).view(n, h, w, 2, 2, 2, 2, c)  # (N, H, W, sy, sx, a, b, C)
        out = x.new_zeros(n, h + 1, 2, w + 1, 2, c)  # (N, rows of 2, parity a, columns of 2, parity b, C), one pixel of padding
        for sy in (0, 1):
            for sx in (0, 1):
                out[:, sy : sy + h, :, sx : sx + w] += cols[:, :, :, sy, sx].permute(0, 1, 3, 2, 4, 5)
        pad_h, pad_w = self.output_padding
        out = out.view(n, 2 * h + 2, 2 * w + 2, c)[:, 1 : 2 * h + 1 + pad_h, 1 : 2 * w + 1 + pad_w]
        out = out + self.bias if self.bias is not None else out.contiguous()
        return out.permute(0, 3, 1, 2)  # (N, C, H_out, W_out), channels_last in memory


class ResidualBlock(nn.Module):
    """x + conv3x3(act(conv3x3(act(x)))), a pre-activation residual block (He et al. 2016)."""

    def __init__(self, channels: int, activation: str):
        super().__init__()
        self.body = nn.Sequential(
            ACTIVATIONS[activation](),
            nn.Conv2d(channels, channels, 3, padding=1),
            ACTIVATIONS[activation](),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)  # (B, C, H, W)


class ConvEncoder(nn.Module):
    """Strided convolutions down to a small map, then linear layers: (B, C, H, W) -> (B, out_dim).

    With ``residual``, a residual block follows each downsampling convolution (``--arch resnet``);
    ``dense`` sizes put fully connected layers before the output layer (the 256-unit layer of
    Higgins et al. 2017's network). ``channels`` fixes each stage's channels instead of ``width``.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        out_dim: int,
        width: int,
        depth: int | None,
        activation: str,
        residual: bool = False,
        condition_dim: int = 0,
        channels: Sequence[int] = (),
        dense: Sequence[int] = (),
    ):
        super().__init__()
        sizes = conv_sizes(shape[1], shape[2], len(channels) or depth)
        stages = channels
        channels = [shape[0], *_channels(width, len(sizes) - 1, stages)]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), ACTIVATIONS[activation]()]
            if residual:
                layers.append(ResidualBlock(c_out, activation))
        self.body = nn.Sequential(*layers).to(memory_format=MEMORY_FORMAT)  # see MEMORY_FORMAT
        flat = channels[-1] * sizes[-1][0] * sizes[-1][1] + condition_dim
        self.dense = _dense([flat, *dense], activation)
        self.head = nn.Linear(dense[-1] if dense else flat, out_dim)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x.contiguous(memory_format=MEMORY_FORMAT))  # (B, C_last, H_last, W_last)
        h = self.dense(with_condition(h.flatten(1), condition))  # (B, F)
        return self.head(h)  # (B, out_dim)


class ConvDecoder(nn.Module):
    """A linear layer to a small map, then transposed convolutions back to exactly (C, H, W).

    Each stage doubles the map; ``output_padding`` adds the odd pixel where the encoder rounded
    down, so any size (28x20, 64x64, 256x256...) is rebuilt exactly. Output: (..., C*H*W) raw.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        latent_dim: int,
        width: int,
        depth: int | None,
        activation: str,
        residual: bool = False,
        channels: Sequence[int] = (),
        dense: Sequence[int] = (),
    ):
        super().__init__()
        sizes = conv_sizes(shape[1], shape[2], len(channels) or depth)
        stages = channels
        channels = [shape[0], *_channels(width, len(sizes) - 1, stages)]
        self.start = (channels[-1], *sizes[-1])
        self.fc = _dense([latent_dim, *reversed(dense), math.prod(self.start)], activation)  # the encoder's dense layers mirrored
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1, 0, -1):
            (h_out, w_out), (h_in, w_in) = sizes[i - 1], sizes[i]
            pad = (h_out - 2 * h_in, w_out - 2 * w_in)  # 0 or 1 per side
            if residual:
                layers.append(ResidualBlock(channels[i], activation))
            last = nn.ConvTranspose2d if i > 1 else ImageTransposedConv
            layers.append(last(channels[i], channels[i - 1], 4, stride=2, padding=1, output_padding=pad))
            if i > 1:
                layers.append(ACTIVATIONS[activation]())
        self.body = nn.Sequential(*layers).to(memory_format=MEMORY_FORMAT)  # see MEMORY_FORMAT

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        h = self.fc(z.reshape(-1, z.shape[-1])).view(-1, *self.start)  # (N, C_last, H_last, W_last)
        h = self.body(h.contiguous(memory_format=MEMORY_FORMAT))
        return h.reshape(*lead, -1)  # (..., C*H*W), in C, H, W order whatever the layout


def encoder(config: ModelConfig, out_dim: int) -> nn.Module:
    """The encoder network of ``config.arch``: (B, C, H, W) [and a condition (B, Y)] -> (B, out_dim)."""
    y = config.condition_dim
    if config.arch in ("conv", "resnet"):
        residual = config.arch == "resnet"
        if config.likelihood in COUNT_LIKELIHOODS:
            raise ConfigError(f"--likelihood {config.likelihood} is for tables of counts: use --arch mlp")
        return ConvEncoder(
            config.input_shape, out_dim, config.width, config.depth, config.activation, residual, y, config.conv_channels, config.dense
        )
    counts = config.likelihood in COUNT_LIKELIHOODS
    return FlatMLP(*mlp([math.prod(config.input_shape) + y, *config.hidden, out_dim], config.activation), log_input=counts)


def decoder(config: ModelConfig) -> nn.Module:
    """The decoder network of ``config.arch``: (..., D [+ Y]) -> raw outputs (..., C*H*W)."""
    z_in = config.latent_dim + config.condition_dim  # a conditional decoder sees [z, y]
    if config.arch in ("conv", "resnet"):
        residual = config.arch == "resnet"
        return ConvDecoder(
            config.input_shape, z_in, config.width, config.depth, config.activation, residual, config.conv_channels, config.dense
        )
    hidden = config.decoder_hidden if config.decoder_hidden is not None else tuple(reversed(config.hidden))
    outputs = math.prod(config.input_shape) * (2 if config.likelihood == "zinb" else 1)  # zinb: rates and dropout logits
    return mlp([z_in, *hidden, outputs], config.activation)


def _bernoulli(head: LikelihoodHead, out: torch.Tensor) -> Likelihood:
    return Bernoulli(out, data_dims=len(head.data_shape))


def _continuous_bernoulli(head: LikelihoodHead, out: torch.Tensor) -> Likelihood:
    return ContinuousBernoulli(out, data_dims=len(head.data_shape))


def _gaussian(head: LikelihoodHead, out: torch.Tensor) -> Likelihood:
    return Gaussian(head.mean(out), head.logvar.clamp(min=MIN_LOGVAR), data_dims=len(head.data_shape))


def _logistic(head: LikelihoodHead, out: torch.Tensor) -> Likelihood:
    # the learned log-variance parameter serves as the log-scale
    return DiscretizedLogistic(head.mean(out), head.logvar.clamp(min=MIN_LOG_SCALE), data_dims=len(head.data_shape))


def _log_proportions(raw: torch.Tensor, data_dims: int) -> torch.Tensor:
    """log_softmax over each example's data dimensions: (..., *event) -> the same shape."""
    flat = raw.flatten(-data_dims) if data_dims > 1 else raw
    return F.log_softmax(flat, dim=-1).view_as(raw)


def _poisson(head: LikelihoodHead, out: torch.Tensor) -> Likelihood:
    d = len(head.data_shape)
    return Poisson(_log_proportions(out, d), head.library, data_dims=d)


def _negative_binomial(head: LikelihoodHead, out: torch.Tensor) -> Likelihood:
    d = len(head.data_shape)
    return NegativeBinomial(_log_proportions(out, d), head.library, data_dims=d, log_theta=head.log_theta)


def _zinb(head: LikelihoodHead, out: torch.Tensor) -> Likelihood:
    d = len(head.data_shape)
    rates, dropout = out.chunk(2, dim=-d)  # the decoder's two halves: (..., *event) each
    return ZeroInflatedNegativeBinomial(_log_proportions(rates, d), head.library, data_dims=d, log_theta=head.log_theta, zi_logits=dropout)


HEADS = {
    "bernoulli": _bernoulli,
    "continuous-bernoulli": _continuous_bernoulli,
    "gaussian": _gaussian,
    "logistic": _logistic,
    "poisson": _poisson,
    "negative-binomial": _negative_binomial,
    "zinb": _zinb,
}


class LikelihoodHead(nn.Module):
    """Turns the decoder's raw output into p(x|z).

    Bernoulli: the raw output is the logits. Gaussian: the mean is ``sigmoid(raw)`` for data in
    [0, 1] (the seed's sigmoid output layer) or ``raw`` itself; the variance is fixed at
    ``gaussian_std**2`` or learned per output dimension.
    """

    def __init__(self, kind: str, data_shape: tuple[int, ...], output_activation: str, gaussian_std: float, learn_variance: bool):
        super().__init__()
        self.make = lookup(HEADS, kind, "likelihood")
        self.data_shape = tuple(data_shape)
        self.sigmoid_mean = lookup({"sigmoid": True, "identity": False}, output_activation, "output activation")
        # gaussian: log sigma^2; logistic: log s, learned per data dimension from the start
        init = torch.full(self.data_shape, math.log(gaussian_std) * (1.0 if kind == "logistic" else 2.0))  # (C, H, W)
        if learn_variance or kind == "logistic":
            self.logvar = nn.Parameter(init)
        else:
            self.register_buffer("logvar", init[(0,) * len(self.data_shape)].clone(), persistent=False)
        self.counts = kind in COUNT_LIKELIHOODS
        if self.counts:  # the training split's mean library size, for means and samples (set_library); saved with the weights
            self.register_buffer("library", torch.ones(()))
        if kind in ("negative-binomial", "zinb"):
            self.log_theta = nn.Parameter(torch.zeros(self.data_shape))  # log inverse dispersion, one per gene (scVI)

    def set_library(self, mean_library: float) -> None:
        """The library size that count likelihoods' ``mean`` and ``sample`` use (the training data's mean total count)."""
        self.library.fill_(float(mean_library))

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out) if self.sigmoid_mean else out

    def forward(self, raw: torch.Tensor) -> Likelihood:
        if self.make is _zinb:  # two values per data dimension
            return self.make(self, raw.reshape(*raw.shape[:-1], 2 * self.data_shape[0], *self.data_shape[1:]))
        return self.make(self, raw.reshape(*raw.shape[:-1], *self.data_shape))  # (..., C, H, W)
