"""The network of a run: family, sizes and decoder likelihood (``ModelConfig``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Literal

import tyro

from vaekit.errors import ConfigError
from vaekit.models import networks
from vaekit.models.networks import ACTIVATIONS
from vaekit.runtime.checks import check_fields


@dataclass(frozen=True)
class ModelConfig:
    """The network: family, sizes and decoder likelihood."""

    kind: Annotated[str, tyro.conf.arg(name="model")] = "vae"
    """Model family: vae, beta-vae, beta-tcvae, factor-vae, dip-vae, iwae, miwae, piwae, ciwae, vamp, info-vae, hvae, hvae-iwae,
    cvae, ae, dae, sparse-ae, contractive-ae, wae, rae, vq-vae."""
    arch: Literal["mlp", "conv", "resnet"] = "mlp"
    """Network: mlp (fully connected), conv (strided convolutions; images of any size, 1 or 3 channels), or resnet
    (conv + residual blocks)."""
    hidden: tuple[int, ...] = (400,)
    """mlp: hidden layer sizes of the encoder (the decoder mirrors them)."""
    decoder_hidden: tuple[int, ...] | None = None
    """mlp: the decoder's hidden layer sizes from z outwards (default: the encoder's, reversed)."""
    width: int = 32
    """conv: channels of the first stage (doubling per stage, up to 8x)."""
    depth: int | None = None
    """conv: number of stride-2 stages (default: until the map is at most 4x4)."""
    conv_channels: tuple[int, ...] = ()
    """conv: the channels of each stride-2 stage, e.g. 32 32 64 64 (replaces --width; their number is the depth)."""
    dense: tuple[int, ...] = ()
    """conv: fully connected layers between the convolutions and the latent, e.g. 256 (mirrored in the decoder)."""
    latent_dim: int = 20
    """Latent size D."""
    activation: str = "relu"
    """Hidden activation: relu, elu, gelu, silu, tanh, leaky-relu."""
    latent_activation: Literal["none", "relu", "sigmoid"] = "none"
    """Activation on an autoencoder's code (the seed's AE and sparse-ae use relu; KL sparsity needs sigmoid)."""
    samples: int = 1
    """Posterior samples decoded per example in training (iwae: the K of its bound)."""
    flow: Literal["none", "planar", "radial", "iaf"] = "none"
    """Posterior flow: the Gaussian posterior pushed through planar, radial (Rezende & Mohamed 2015) or IAF (Kingma et al. 2016)
    steps; the KL becomes a Monte-Carlo estimate."""
    flow_steps: int = 4
    """Steps of the posterior flow."""
    pseudo_inputs: int = 500
    """vamp: M, learned pseudo-inputs whose posteriors make the VampPrior mixture."""
    layers: int = 2
    """hvae: stochastic layers L (each of --latent-dim units unless --layer-dims says otherwise)."""
    layer_dims: tuple[int, ...] = ()
    """hvae: the size of each stochastic layer, bottom (next to x) to top, e.g. 100 50 (replaces --layers)."""
    ladder_hidden: tuple[int, ...] = (256,)
    """hvae: hidden sizes of the MLPs between stochastic layers (bottom-up and top-down)."""
    top_prior: Literal["standard", "vamp"] = "standard"
    """hvae: the top layer's prior, N(0, I) or a VampPrior over --pseudo-inputs (Tomczak & Welling 2018's HVAE + VampPrior)."""
    decoder_l2: float = 1e-4
    """rae: weight λ of the L2 penalty (λ/2)|θ|^2 on the decoder's weights (RAE-L2; 0: off), applied as Adam's weight decay."""
    noise: Literal["gaussian", "masking", "salt-pepper"] = "gaussian"
    """dae: how the input is corrupted."""
    noise_level: float = 0.3
    """dae: noise std (gaussian) or the fraction of values corrupted (masking, salt-pepper)."""
    likelihood: Literal["auto", "bernoulli", "continuous-bernoulli", "gaussian", "logistic", "poisson", "negative-binomial", "zinb"] = (
        "auto"
    )
    """Decoder p(x|z): bernoulli (cross-entropy from logits), continuous-bernoulli (normalised on [0, 1]),
    gaussian, logistic (discretized, for 8-bit images), or for counts poisson, negative-binomial, zinb (zero-inflated
    NB; rates scaled by each example's library size, log(1 + x) into the encoder, as scVI); auto: bernoulli for images,
    gaussian for tabular rows."""
    output_activation: Literal["auto", "sigmoid", "identity"] = "auto"
    """Gaussian mean = sigmoid(output) (data in [0, 1]) or the raw output; auto: sigmoid for images, identity for tabular rows."""
    gaussian_std: float = 0.1
    """Standard deviation of a fixed-variance Gaussian likelihood (initial value if learned)."""
    learn_variance: bool = False
    """Learn one Gaussian log-variance per data dimension instead of fixing it."""
    codebook_size: int = 512
    """vq-vae: K, vectors in the codebook."""
    code_dim: int = 4
    """vq-vae: d, size of each codebook vector; the latent vector is latent_dim / d slots."""
    ema_decay: float = 0.99
    """vq-vae: decay of the codebook's moving averages."""
    dead_code_steps: int = 0
    """vq-vae: move a code unused for this many steps onto an encoder output of the batch (0: never; vq-vae's default is 100)."""
    condition: Literal["label", "attributes"] = "label"
    """cvae: condition on the class label (one-hot) or on the attribute vector (folder --attributes)."""
    condition_dim: tyro.conf.Suppress[int] = 0
    """Size of the condition vector, from the data (0: unconditional)."""
    input_shape: tyro.conf.Suppress[tuple[int, ...] | None] = None
    """Shape of one example, from the data (pinned by the seed presets)."""

    def __post_init__(self) -> None:
        check_fields(self)
        from vaekit.models.registry import MODELS  # the registry builds configs too: imported when first needed

        if self.kind not in MODELS:
            raise ConfigError(f"unknown model '{self.kind}'; choose one of: {', '.join(MODELS)}")
        if self.latent_dim < 1 or any(h < 1 for h in self.hidden):
            raise ConfigError(f"--latent-dim and --hidden sizes must be positive, got {self.latent_dim} and {self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation '{self.activation}'; choose one of: {', '.join(ACTIVATIONS)}")
        if self.samples < 1:
            raise ConfigError(f"--samples must be at least 1, got {self.samples}")
        if self.layers < 1 or any(n < 1 for n in (*self.layer_dims, *self.ladder_hidden)) or not self.ladder_hidden:
            raise ConfigError(
                f"--layers, --layer-dims and --ladder-hidden must be positive (and --ladder-hidden not empty), "
                f"got {self.layers}, {self.layer_dims} and {self.ladder_hidden}"
            )
        if not self.decoder_l2 >= 0:
            raise ConfigError(f"--decoder-l2 must be 0 or more, got {self.decoder_l2}")
        if self.kind == "vamp" and self.flow != "none":
            raise ConfigError("--model vamp needs Gaussian posteriors (its prior is their mixture): drop --flow")
        if self.flow_steps < 1 or self.pseudo_inputs < 1:
            raise ConfigError(f"--flow-steps and --pseudo-inputs must be at least 1, got {self.flow_steps} and {self.pseudo_inputs}")
        if not self.noise_level >= 0 or (self.noise != "gaussian" and self.noise_level > 1):
            raise ConfigError(f"--noise-level must be >= 0 (a fraction <= 1 for {self.noise}), got {self.noise_level}")
        if self.kind == "vq-vae" and (self.latent_dim % self.code_dim or self.codebook_size < 2 or not 0 < self.ema_decay < 1):
            raise ConfigError(
                f"vq-vae needs --latent-dim ({self.latent_dim}) divisible by --code-dim ({self.code_dim}), "
                f"--codebook-size >= 2 and 0 < --ema-decay < 1"
            )
        if self.dead_code_steps < 0:
            raise ConfigError(f"--dead-code-steps must be 0 (off) or more, got {self.dead_code_steps}")
        if self.code_dim < 1 or self.codebook_size < 1:
            raise ConfigError(f"--code-dim and --codebook-size must be positive, got {self.code_dim} and {self.codebook_size}")
        if self.width < 1 or (self.depth is not None and self.depth < 1):
            raise ConfigError(f"--width and --depth must be positive, got {self.width} and {self.depth}")
        if any(n < 1 for n in (*self.conv_channels, *self.dense, *(self.decoder_hidden or ()))):
            sizes = f"{self.conv_channels}, {self.dense} and {self.decoder_hidden}"
            raise ConfigError(f"--conv-channels, --dense and --decoder-hidden sizes must be positive, got {sizes}")
        if self.arch == "mlp" and (self.conv_channels or self.dense):
            raise ConfigError("--conv-channels and --dense shape the convolutional networks; add --arch conv (or resnet), or drop them")
        if self.arch != "mlp" and self.decoder_hidden is not None:
            raise ConfigError(f"--decoder-hidden shapes the mlp decoder; --arch {self.arch} mirrors the encoder (use --dense), drop it")
        if self.conv_channels and self.depth is not None and self.depth != len(self.conv_channels):
            raise ConfigError(f"--conv-channels gives {len(self.conv_channels)} stages but --depth is {self.depth}; drop --depth")
        if not self.gaussian_std > 0:
            raise ConfigError(f"--gaussian-std must be positive, got {self.gaussian_std}")
        if self.condition_dim < 0:
            raise ConfigError(f"condition_dim must be 0 or more, got {self.condition_dim}")
        if self.input_shape is not None and (len(self.input_shape) not in (1, 3) or any(s < 1 for s in self.input_shape)):
            raise ConfigError(f"input_shape must be (D,) rows or (C, H, W) images of positive sizes, got {self.input_shape}")

    def for_data(self, shape: tuple[int, ...], preset: str | None = None) -> ModelConfig:
        """This config with ``input_shape`` set to the data's; a pinned shape must match."""
        if self.input_shape is not None and tuple(self.input_shape) != tuple(shape):
            if preset is None:  # a run's saved config, or a Python caller's pinned shape
                raise ConfigError(
                    f"the model is built for inputs of shape {tuple(self.input_shape)} but the data have shape {tuple(shape)}"
                )
            raise ConfigError(
                f"preset '{preset}' is built for inputs of shape {tuple(self.input_shape)} but the data has "
                f"shape {tuple(shape)}; use --data mnist, or --model {self.kind} without a preset"
            )
        tabular = len(shape) == 1
        if self.arch != "mlp" and len(shape) != 3:
            raise ConfigError(f"--arch {self.arch} needs images (C, H, W) but the data has shape {tuple(shape)}; use --arch mlp")
        if self.arch != "mlp":
            networks.conv_sizes(shape[1], shape[2], len(self.conv_channels) or self.depth)  # a --depth too deep for the image fails here
        likelihood = ("gaussian" if tabular else "bernoulli") if self.likelihood == "auto" else self.likelihood
        output = ("identity" if tabular else "sigmoid") if self.output_activation == "auto" else self.output_activation
        return replace(self, input_shape=tuple(shape), likelihood=likelihood, output_activation=output)
