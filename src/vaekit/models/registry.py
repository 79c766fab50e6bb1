"""The model registry and named presets (the seed's exact AE and VAE among them).

``build_model(config)`` turns a ``ModelConfig`` (with ``input_shape`` filled in from the data) into
a module. Each registered family names its training objective and the model options only it
reads; the objectives themselves live in ``vaekit.objectives`` and never see these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from vaekit.errors import ConfigError
from vaekit.models.autoencoder import (
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    RegularizedAutoencoder,
    WassersteinAutoencoder,
)
from vaekit.models.base import LatentModel
from vaekit.models.config import ModelConfig
from vaekit.models.hvae import HierarchicalVAE
from vaekit.models.vae import VAE, InfoVAE, VampVAE
from vaekit.models.vqvae import VQVAE


@dataclass(frozen=True)
class ModelSpec:
    """A registered model family: its class, the objective it trains on, and its defaults.

    ``model_defaults`` and ``objective_defaults`` replace ``ModelConfig`` / ``ObjectiveConfig``
    defaults for this family (a β-VAE's β is 4, an IWAE decodes 5 samples). ``options`` are the
    ``ModelConfig`` fields that only some families read; one set for a family that does not read it
    is refused rather than ignored, and ``vaekit train --help`` groups them under their families.
    """

    cls: type[LatentModel]
    objective: str
    description: str
    model_defaults: dict[str, Any] = field(default_factory=dict)
    objective_defaults: dict[str, Any] = field(default_factory=dict)
    conditional: bool = False  # takes a condition from the data (labels or attributes)
    options: tuple[str, ...] = ()


VAE_OPTIONS = ("samples",)
FLOW_OPTIONS = ("samples", "flow", "flow_steps")  # families whose objective takes a Monte-Carlo KL
AE_OPTIONS = ("latent_activation",)
HVAE_OPTIONS = ("samples", "layers", "layer_dims", "ladder_hidden", "top_prior", "pseudo_inputs")

MODELS: dict[str, ModelSpec] = {
    "vae": ModelSpec(VAE, "elbo", "variational autoencoder, Gaussian posterior, N(0, I) prior", options=FLOW_OPTIONS),
    "beta-vae": ModelSpec(
        VAE,
        "elbo",
        "β-VAE (Higgins et al. 2017), β = 4 by default; --capacity for Burgess et al. 2018",
        objective_defaults={"beta": 4.0},
        options=FLOW_OPTIONS,
    ),
    "beta-tcvae": ModelSpec(
        VAE,
        "tcvae",
        "β-TCVAE (Chen et al. 2018): total-correlation penalty from minibatch estimates of q(z)",
        objective_defaults={"beta": 6.0},
        options=VAE_OPTIONS,
    ),
    "factor-vae": ModelSpec(
        VAE,
        "factor",
        "FactorVAE (Kim & Mnih 2018): total correlation estimated by a discriminator on permuted codes, weight --gamma",
        options=VAE_OPTIONS,
    ),
    "dip-vae": ModelSpec(
        VAE,
        "dip",
        "DIP-VAE (Kumar et al. 2018, --dip-type i or ii): the aggregate posterior's covariance pulled towards I",
        options=VAE_OPTIONS,
    ),
    "iwae": ModelSpec(
        VAE,
        "iwae",
        "importance-weighted autoencoder (Burda et al. 2016), trained on the K = 5 bound",
        model_defaults={"samples": 5},
        options=FLOW_OPTIONS,
    ),
    "miwae": ModelSpec(
        VAE,
        "miwae",
        "MIWAE (Rainforth et al. 2018): the mean of --groups M IWAE bounds; 16 samples in 4 groups by default",
        model_defaults={"samples": 16},
        options=FLOW_OPTIONS,
    ),
    "piwae": ModelSpec(
        VAE,
        "piwae",
        "PIWAE (Rainforth et al. 2018): decoder on the IWAE bound of all samples, encoder on MIWAE(--groups)",
        model_defaults={"samples": 16},
        options=FLOW_OPTIONS,
    ),
    "ciwae": ModelSpec(
        VAE,
        "ciwae",
        "CIWAE (Rainforth et al. 2018): β ELBO + (1 - β) IWAE over the same samples, --ciwae-beta β",
        model_defaults={"samples": 5},
        options=FLOW_OPTIONS,
    ),
    "vamp": ModelSpec(
        VampVAE,
        "elbo",
        "VampPrior VAE (Tomczak & Welling 2018): p(z) a mixture of the posteriors of --pseudo-inputs learned inputs",
        options=(*VAE_OPTIONS, "pseudo_inputs"),
    ),
    "info-vae": ModelSpec(
        InfoVAE,
        "info",
        "InfoVAE (Zhao et al. 2019): rec + (1 - α) KL + (α + λ - 1) MMD(q(z), p(z)); --info-alpha α, --mmd-weight λ",
        options=FLOW_OPTIONS,
    ),
    "hvae": ModelSpec(
        HierarchicalVAE,
        "elbo",
        "hierarchical VAE (ladder / NVAE-style top-down inference): --layers or --layer-dims, KL and free bits per layer",
        options=HVAE_OPTIONS,
    ),
    "hvae-iwae": ModelSpec(
        HierarchicalVAE,
        "iwae",
        "hierarchical VAE trained on the K = 5 importance-weighted bound (Burda et al. 2016's two-layer model)",
        model_defaults={"samples": 5},
        options=HVAE_OPTIONS,
    ),
    "cvae": ModelSpec(
        VAE,
        "elbo",
        "conditional VAE (Sohn et al. 2015): labels or attributes in encoder and decoder",
        conditional=True,
        options=(*FLOW_OPTIONS, "condition"),
    ),
    "ae": ModelSpec(Autoencoder, "reconstruction", "deterministic autoencoder", options=AE_OPTIONS),
    "dae": ModelSpec(
        DenoisingAutoencoder,
        "reconstruction",
        "denoising autoencoder (Vincent et al. 2008): corrupted input, clean target",
        options=(*AE_OPTIONS, "noise", "noise_level"),
    ),
    # A sigmoid code saturates under Adam at lr 1e-3 and the AE collapses to the mean image, so
    # sparse-ae defaults to a ReLU code (L1 sparsity); --sparsity kl needs --latent-activation sigmoid.
    "sparse-ae": ModelSpec(
        Autoencoder,
        "sparse",
        "sparse autoencoder: ReLU code with an L1 penalty (or sigmoid code with KL sparsity)",
        model_defaults={"latent_activation": "relu"},
        options=AE_OPTIONS,
    ),
    "contractive-ae": ModelSpec(
        ContractiveAutoencoder, "contractive", "contractive autoencoder (Rifai et al. 2011): encoder Jacobian penalty", options=AE_OPTIONS
    ),
    "wae": ModelSpec(
        WassersteinAutoencoder,
        "wae",
        "Wasserstein autoencoder (Tolstikhin et al. 2018): deterministic codes pulled to N(0, I) by an MMD; samples the prior",
        options=AE_OPTIONS,
    ),
    "rae": ModelSpec(
        RegularizedAutoencoder,
        "rae",
        "regularised autoencoder (Ghosh et al. 2020): (β/2)|z|^2, decoder weight decay --decoder-l2, --gradient-penalty",
        options=(*AE_OPTIONS, "decoder_l2"),
    ),
    "vq-vae": ModelSpec(
        VQVAE,
        "vq",
        "VQ-VAE (van den Oord et al. 2017): EMA codebook, commitment loss; samples from a prior fitted to the codes",
        model_defaults={"dead_code_steps": 100},
        options=("codebook_size", "code_dim", "ema_decay", "dead_code_steps"),
    ),
}

FAMILY_OPTIONS = frozenset(name for spec in MODELS.values() for name in spec.options)


@dataclass(frozen=True)
class Preset:
    """A named model configuration, and for full recipes the data, objective and training settings.

    ``objective``, ``train`` and ``data_options`` hold ``ObjectiveConfig`` / ``TrainConfig`` field values as plain
    values, since models do not import objectives or training; ``data`` is the dataset a recipe
    was tuned on (None: any data of ``model.input_shape``).
    """

    model: ModelConfig
    description: str
    data: str | None = None
    objective: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)  # DataConfig fields (image_size, channels)
    any_family: bool = False  # a network only: --model picks the family (its defaults apply)


LOCATELLO_CONV = ModelConfig(kind="vae", arch="conv", conv_channels=(32, 32, 64, 64), dense=(256,), latent_dim=10, likelihood="bernoulli")
CHEN_MLP = ModelConfig(kind="vae", hidden=(1200, 1200), decoder_hidden=(1200, 1200, 1200), latent_dim=10, likelihood="bernoulli")

PRESETS: dict[str, Preset] = {
    "seed-ae": Preset(
        ModelConfig(kind="ae", hidden=(256,), latent_dim=32, latent_activation="relu", likelihood="gaussian", input_shape=(1, 28, 28)),
        "the seed's Autoencoder: 784-256-32 (ReLU code) / 32-256-784 sigmoid, MSE",
    ),
    "seed-vae": Preset(
        ModelConfig(kind="vae", hidden=(400,), latent_dim=20, likelihood="bernoulli", input_shape=(1, 28, 28)),
        "the seed's VariationalAutoencoder: 784-400-(2x20) / 20-400-784, Bernoulli decoder",
    ),
    # The IWAE paper's two-stochastic-layer MNIST network (Burda et al. 2016, section 5): 784-200-200-[100]-100-100-[50],
    # tanh, its generative side mirrored; our inference is top-down (the ladder structure), theirs bottom-up.
    "burda-2layer": Preset(
        ModelConfig(
            kind="hvae-iwae",
            hidden=(200, 200),
            ladder_hidden=(100, 100),
            layer_dims=(100, 50),
            samples=5,
            activation="tanh",
            likelihood="bernoulli",
            input_shape=(1, 28, 28),
        ),
        "two stochastic layers (100, 50) on dynamically binarized MNIST, IWAE K = 5, 100 epochs "
        "(test -log p(x) 89.76 at K = 5000, 42 CPU-min with the evaluation)",
        data="mnist",
        data_options={"binarize": "dynamic"},
        train={"epochs": 100, "batch_size": 100, "lr": 1e-3, "lr_schedule": "cosine"},
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
    # The standard networks of the disentanglement literature, for any family (--model picks it).
    "locatello-conv": Preset(
        LOCATELLO_CONV,
        "the disentanglement conv net of Higgins et al. 2017 / Locatello et al. 2019: four 4x4 stride-2 convolutions "
        "32-32-64-64, a 256-unit layer, D = 10, Bernoulli decoder (any family: add --model)",
        any_family=True,
    ),
    "chen-mlp": Preset(
        CHEN_MLP,
        "the MLP of Chen et al. 2018 (β-TCVAE): encoder 1200-1200, decoder 1200-1200-1200, D = 10, Bernoulli decoder "
        "(any family: add --model)",
        any_family=True,
    ),
    # Disentanglement recipes on shapes and faces, each within an hour of a 2-core CPU (bench/README.md, "Recipes").
    "shapes-beta-vae": Preset(
        replace(LOCATELLO_CONV, kind="beta-vae", input_shape=(1, 64, 64)),
        "β-VAE (β = 8) on shapes with the Locatello conv net: 60 epochs, batch 64 (test MIG 0.105, DCI-D 0.249; 23 CPU-min)",
        data="shapes",
        objective={"beta": 8.0},
        train={"epochs": 60, "batch_size": 64, "lr": 5e-4},
    ),
    "shapes-beta-tcvae": Preset(
        replace(CHEN_MLP, kind="beta-tcvae", input_shape=(1, 64, 64)),
        "β-TCVAE (β = 6) on shapes with Chen et al.'s MLP: 230 epochs, batch 256 (test MIG 0.252, DCI-D 0.254 over 3 seeds; 44 CPU-min)",
        data="shapes",
        objective={"beta": 6.0},
        train={"epochs": 230, "batch_size": 256, "lr": 1e-3},
    ),
    "shapes-factor-vae": Preset(
        replace(LOCATELLO_CONV, kind="factor-vae", input_shape=(1, 64, 64)),
        "FactorVAE (γ = 30) on shapes with the Locatello conv net and the paper's 6 x 1000 discriminator: 35 epochs, batch 64 "
        "(test MIG 0.054, DCI-D 0.144; 27 CPU-min)",
        data="shapes",
        objective={"gamma": 30.0},
        train={"epochs": 35, "batch_size": 64, "lr": 5e-4},
    ),
    "faces-beta-vae": Preset(
        replace(LOCATELLO_CONV, kind="beta-vae", input_shape=(3, 64, 64)),
        "β-VAE (β = 8) on 64x64 RGB faces with the Locatello conv net: 20 epochs, batch 64 (test MIG 0.109, DCI-D 0.053; 13 CPU-min)",
        data="faces",
        objective={"beta": 8.0},
        train={"epochs": 20, "batch_size": 64, "lr": 5e-4},
    ),
    "faces-beta-tcvae": Preset(
        replace(CHEN_MLP, kind="beta-tcvae", input_shape=(3, 64, 64)),
        "β-TCVAE (β = 6) on 64x64 RGB faces, Chen et al.'s MLP: 100 epochs, batch 256 (test MIG 0.259, DCI-D 0.119; 52 min, 2 threads)",
        data="faces",
        objective={"beta": 6.0},
        train={"epochs": 100, "batch_size": 256, "lr": 1e-3},
    ),
    "faces-factor-vae": Preset(
        replace(LOCATELLO_CONV, kind="factor-vae", input_shape=(3, 64, 64)),
        "FactorVAE (γ = 30) on 64x64 RGB faces with the Locatello conv net: 12 epochs, batch 64 (test MIG 0.107, DCI-D 0.061; 11 CPU-min)",
        data="faces",
        objective={"gamma": 30.0},
        train={"epochs": 12, "batch_size": 64, "lr": 5e-4},
    ),
    # The seed's running example: faces to a small code, a smile to edit.
    "faces-vae": Preset(
        ModelConfig(kind="vae", arch="conv", width=32, latent_dim=32, likelihood="gaussian", gaussian_std=0.1, input_shape=(3, 64, 64)),
        "conv VAE for 64x64 RGB faces: 32-64-128-256 channels, 32 latents, Gaussian decoder (σ = 0.1), 30 epochs, cosine LR "
        "(smile edit success 0.994, preservation 0.48; 43 CPU-min)",
        data="faces",
        train={"epochs": 30, "batch_size": 64, "lr": 1e-3, "lr_schedule": "cosine"},
    ),
    "seed-faces-256": Preset(
        ModelConfig(kind="vae", arch="conv", width=16, latent_dim=32, likelihood="gaussian", gaussian_std=0.1, input_shape=(3, 256, 256)),
        "the seed's example at its size: 256x256 RGB faces to 32 numbers (conv 16-32-64-128-128-128), 5 epochs, cosine LR "
        "(MSE 0.0066, SSIM 0.81, 32 active units; smile edit success only 0.105; 38 CPU-min)",
        data="faces",
        data_options={"image_size": 256},
        train={"epochs": 5, "batch_size": 32, "lr": 1e-3, "lr_schedule": "cosine"},
    ),
}


def resolve_model_config(model: str | None = None, preset: str | None = None) -> ModelConfig:
    """The starting config for ``--model`` and/or ``--preset`` (they must agree)."""
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset '{preset}'; choose one of: {', '.join(PRESETS)}")
        config = PRESETS[preset].model
        if PRESETS[preset].any_family and model is not None:
            if model not in MODELS:
                raise ConfigError(f"unknown model '{model}'; choose one of: {', '.join(MODELS)}")
            return replace(config, kind=model, **MODELS[model].model_defaults)
        if model is not None and model != config.kind:
            raise ConfigError(f"preset '{preset}' is a '{config.kind}' model, not '{model}'; drop --model or pick another preset")
        return config
    kind = model or "vae"
    if kind not in MODELS:
        raise ConfigError(f"unknown model '{kind}'; choose one of: {', '.join(MODELS)}")
    return ModelConfig(kind=kind, **MODELS[kind].model_defaults)


def check_model_options(config: ModelConfig) -> None:
    """Raise if ``config`` sets a family-specific option that its family would silently ignore."""
    spec = MODELS[config.kind]
    defaults = ModelConfig(kind=config.kind, **spec.model_defaults)
    ignored = [
        f.name
        for f in fields(config)
        if f.name in FAMILY_OPTIONS and f.name not in spec.options and getattr(config, f.name) != getattr(defaults, f.name)
    ]
    if ignored:
        users = {name: [k for k, s in MODELS.items() if name in s.options] for name in ignored}
        flags = ", ".join(f"--{n.replace('_', '-')} (used by {', '.join(users[n])})" for n in ignored)
        raise ConfigError(f"--model {config.kind} does not use {flags}; drop them or pick a model family that does")


def build_model(config: ModelConfig) -> LatentModel:
    """Instantiate the model; ``config.input_shape`` must be set (see ``ModelConfig.for_data``)."""
    if config.input_shape is None:
        raise ConfigError("the model config has no input_shape; call config.for_data(dataset.shape) first")
    return MODELS[config.kind].cls(config.for_data(config.input_shape))  # resolves 'auto' choices
