"""Model registry and named presets (the seed's exact AE and VAE among them).

``build_model(config)`` turns a ``ModelConfig`` (with ``input_shape`` filled in from the data) into
a module. Each registered family names its training objective; the objectives themselves live in
``vaekit.objectives`` and never see these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

import tyro

from vaekit.errors import ConfigError
from vaekit.models.autoencoder import Autoencoder, ContractiveAutoencoder, DenoisingAutoencoder
from vaekit.models.base import LatentModel
from vaekit.models import networks
from vaekit.models.networks import ACTIVATIONS
from vaekit.models.vae import VAE
from vaekit.models.vqvae import VQVAE


@dataclass(frozen=True)
class ModelSpec:
    """A registered model family: its class, the objective it trains on, and its defaults.

    ``model_defaults`` and ``objective_defaults`` replace ``ModelConfig`` / ``ObjectiveConfig``
    defaults for this family (a β-VAE's β is 4, an IWAE decodes 5 samples).
    """

    cls: type[LatentModel]
    objective: str
    description: str
    model_defaults: dict[str, Any] = field(default_factory=dict)
    objective_defaults: dict[str, Any] = field(default_factory=dict)
    conditional: bool = False  # takes a condition from the data (labels or attributes)


MODELS: dict[str, ModelSpec] = {
    "vae": ModelSpec(VAE, "elbo", "variational autoencoder, Gaussian posterior, N(0, I) prior"),
    "beta-vae": ModelSpec(VAE, "elbo", "β-VAE (Higgins et al. 2017), β = 4 by default; --capacity for Burgess et al. 2018",
                          objective_defaults={"beta": 4.0}),
    "beta-tcvae": ModelSpec(VAE, "tcvae", "β-TCVAE (Chen et al. 2018): total-correlation penalty from minibatch estimates of q(z)",
                            objective_defaults={"beta": 6.0}),
    "iwae": ModelSpec(VAE, "iwae", "importance-weighted autoencoder (Burda et al. 2016), trained on the K = 5 bound",
                      model_defaults={"samples": 5}),
    "cvae": ModelSpec(VAE, "elbo", "conditional VAE (Sohn et al. 2015): labels or attributes in encoder and decoder", conditional=True),
    "ae": ModelSpec(Autoencoder, "reconstruction", "deterministic autoencoder"),
    "dae": ModelSpec(DenoisingAutoencoder, "reconstruction", "denoising autoencoder (Vincent et al. 2008): corrupted input, clean target"),
    # A sigmoid code saturates under Adam at lr 1e-3 and the AE collapses to the mean image, so
    # sparse-ae defaults to a ReLU code (L1 sparsity); --sparsity kl needs --latent-activation sigmoid.
    "sparse-ae": ModelSpec(Autoencoder, "sparse", "sparse autoencoder: ReLU code with an L1 penalty (or sigmoid code with KL sparsity)",
                           model_defaults={"latent_activation": "relu"}),
    "contractive-ae": ModelSpec(ContractiveAutoencoder, "contractive", "contractive autoencoder (Rifai et al. 2011): encoder Jacobian penalty"),
    "vq-vae": ModelSpec(VQVAE, "vq", "VQ-VAE (van den Oord et al. 2017): EMA codebook, commitment loss; samples from a prior fitted to the codes"),
}


@dataclass(frozen=True)
class ModelConfig:
    """The network: family, sizes and decoder likelihood."""

    kind: Annotated[str, tyro.conf.arg(name="model")] = "vae"
    """Model family: vae, beta-vae, beta-tcvae, iwae, cvae, ae, dae, sparse-ae, contractive-ae, vq-vae."""
    arch: Literal["mlp", "conv", "resnet"] = "mlp"
    """Network: mlp (fully connected), conv (strided convolutions; images of any size, 1 or 3 channels), or resnet (conv + residual blocks)."""
    hidden: tuple[int, ...] = (400,)
    """mlp: hidden layer sizes of the encoder (the decoder mirrors them)."""
    width: int = 32
    """conv: channels of the first stage (doubling per stage, up to 8x)."""
    depth: int | None = None
    """conv: number of stride-2 stages (default: until the map is at most 4x4)."""
    latent_dim: int = 20
    """Latent size D."""
    activation: str = "relu"
    """Hidden activation: relu, elu, gelu, silu, tanh, leaky-relu."""
    latent_activation: Literal["none", "relu", "sigmoid"] = "none"
    """Activation on an autoencoder's code (the seed's AE and sparse-ae use relu; KL sparsity needs sigmoid)."""
    samples: int = 1
    """Posterior samples decoded per example in training (iwae: the K of its bound)."""
    noise: Literal["gaussian", "masking", "salt-pepper"] = "gaussian"
    """dae: how the input is corrupted."""
    noise_level: float = 0.3
    """dae: noise std (gaussian) or the fraction of values corrupted (masking, salt-pepper)."""
    likelihood: Literal["auto", "bernoulli", "continuous-bernoulli", "gaussian", "logistic"] = "auto"
    """Decoder p(x|z): bernoulli (cross-entropy from logits), continuous-bernoulli (normalised on [0, 1]),
    gaussian, or logistic (discretized, for 8-bit images); auto: bernoulli for images, gaussian for tabular rows."""
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
    condition: Literal["label", "attributes"] = "label"
    """cvae: condition on the class label (one-hot) or on the attribute vector (folder --attributes)."""
    condition_dim: tyro.conf.Suppress[int] = 0
    """Size of the condition vector, from the data (0: unconditional)."""
    input_shape: tyro.conf.Suppress[tuple[int, ...] | None] = None
    """Shape of one example, from the data (pinned by the seed presets)."""

    def __post_init__(self) -> None:
        if self.kind not in MODELS:
            raise ConfigError(f"unknown model '{self.kind}'; choose one of: {', '.join(MODELS)}")
        if self.latent_dim < 1 or any(h < 1 for h in self.hidden):
            raise ConfigError(f"--latent-dim and --hidden sizes must be positive, got {self.latent_dim} and {self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation '{self.activation}'; choose one of: {', '.join(ACTIVATIONS)}")
        if self.samples < 1:
            raise ConfigError(f"--samples must be at least 1, got {self.samples}")
        if not self.noise_level >= 0 or (self.noise != "gaussian" and self.noise_level > 1):
            raise ConfigError(f"--noise-level must be >= 0 (a fraction <= 1 for {self.noise}), got {self.noise_level}")
        if self.kind == "vq-vae" and (self.latent_dim % self.code_dim or self.codebook_size < 2 or not 0 < self.ema_decay < 1):
            raise ConfigError(f"vq-vae needs --latent-dim ({self.latent_dim}) divisible by --code-dim ({self.code_dim}), "
                              f"--codebook-size >= 2 and 0 < --ema-decay < 1")
        if self.width < 1 or (self.depth is not None and self.depth < 1):
            raise ConfigError(f"--width and --depth must be positive, got {self.width} and {self.depth}")
        if not self.gaussian_std > 0:
            raise ConfigError(f"--gaussian-std must be positive, got {self.gaussian_std}")

    def for_data(self, shape: tuple[int, ...], preset: str | None = None) -> ModelConfig:
        """This config with ``input_shape`` set to the data's; a pinned shape must match."""
        if self.input_shape is not None and tuple(self.input_shape) != tuple(shape):
            raise ConfigError(
                f"preset '{preset}' is built for inputs of shape {tuple(self.input_shape)} but the data has "
                f"shape {tuple(shape)}; use --data mnist, or --model {self.kind} without a preset"
            )
        tabular = len(shape) == 1
        if self.arch != "mlp" and len(shape) != 3:
            raise ConfigError(f"--arch {self.arch} needs images (C, H, W) but the data has shape {tuple(shape)}; use --arch mlp")
        if self.arch != "mlp":
            networks.conv_sizes(shape[1], shape[2], self.depth)  # a --depth too deep for the image fails here
        likelihood = ("gaussian" if tabular else "bernoulli") if self.likelihood == "auto" else self.likelihood
        output = ("identity" if tabular else "sigmoid") if self.output_activation == "auto" else self.output_activation
        return replace(self, input_shape=tuple(shape), likelihood=likelihood, output_activation=output)


@dataclass(frozen=True)
class Preset:
    """A named model configuration, and for full recipes the data, objective and training settings.

    ``objective`` and ``train`` hold ``ObjectiveConfig`` / ``TrainConfig`` field values as plain
    values, since models do not import objectives or training; ``data`` is the dataset a recipe
    was tuned on (None: any data of ``model.input_shape``).
    """

    model: ModelConfig
    description: str
    data: str | None = None
    objective: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "seed-ae": Preset(
        ModelConfig(kind="ae", hidden=(256,), latent_dim=32, latent_activation="relu", likelihood="gaussian", input_shape=(1, 28, 28)),
        "the seed's Autoencoder: 784-256-32 (ReLU code) / 32-256-784 sigmoid, MSE",
    ),
    "seed-vae": Preset(
        ModelConfig(kind="vae", hidden=(400,), latent_dim=20, likelihood="bernoulli", input_shape=(1, 28, 28)),
        "the seed's VariationalAutoencoder: 784-400-(2x20) / 20-400-784, Bernoulli decoder",
    ),
    # Recipes for statically binarized MNIST, each under an hour of a 2-core CPU (bench/README.md):
    # conv encoder/decoder (32-64-128 channels), 32 latents, cosine LR; the VAE warms its KL up over 10 epochs.
    "binarized-vae": Preset(
        ModelConfig(kind="vae", arch="conv", width=32, latent_dim=32, likelihood="bernoulli", input_shape=(1, 28, 28)),
        "conv VAE for static binarized MNIST: 100 epochs, batch 100, KL warm-up, cosine LR (test -log p(x) 86.18, 51 CPU-min)",
        data="binarized-mnist",
        objective={"kl_warmup_steps": 5000},
        train={"epochs": 100, "batch_size": 100, "lr": 1e-3, "lr_schedule": "cosine"},
    ),
    "binarized-iwae": Preset(
        ModelConfig(kind="iwae", arch="conv", width=32, latent_dim=32, samples=5, likelihood="bernoulli", input_shape=(1, 28, 28)),
        "conv IWAE (K = 5) for static binarized MNIST: 30 epochs, batch 100, cosine LR (test -log p(x) 87.04, 55 CPU-min)",
        data="binarized-mnist",
        train={"epochs": 30, "batch_size": 100, "lr": 1e-3, "lr_schedule": "cosine"},
    ),
}


def resolve_model_config(model: str | None = None, preset: str | None = None) -> ModelConfig:
    """The starting config for ``--model`` and/or ``--preset`` (they must agree)."""
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset '{preset}'; choose one of: {', '.join(PRESETS)}")
        config = PRESETS[preset].model
        if model is not None and model != config.kind:
            raise ConfigError(f"preset '{preset}' is a '{config.kind}' model, not '{model}'; drop --model or pick another preset")
        return config
    kind = model or "vae"
    if kind not in MODELS:
        raise ConfigError(f"unknown model '{kind}'; choose one of: {', '.join(MODELS)}")
    return ModelConfig(kind=kind, **MODELS[kind].model_defaults)


def build_model(config: ModelConfig) -> LatentModel:
    """Instantiate the model; ``config.input_shape`` must be set (see ``ModelConfig.for_data``)."""
    if config.input_shape is None:
        raise ConfigError("the model config has no input_shape; call config.for_data(dataset.shape) first")
    return MODELS[config.kind].cls(config.for_data(config.input_shape))  # resolves 'auto' choices


__all__ = ["MODELS", "PRESETS", "LatentModel", "ModelConfig", "ModelSpec", "Preset", "build_model", "resolve_model_config"]
