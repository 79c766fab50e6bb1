"""Weights of an objective's terms and their schedules (``ObjectiveConfig``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vaekit.errors import ConfigError
from vaekit.runtime.checks import check_fields


@dataclass(frozen=True)
class ObjectiveConfig:
    """Weights of the objective's terms and their schedules."""

    beta: float = 1.0
    """Weight of the KL term only (β-VAE; β = 1 is the true ELBO), or of the total correlation (β-TCVAE)."""
    kl_warmup_steps: int = 0
    """Raise the KL weight linearly from 0 to β over this many steps (0: off)."""
    kl_cycles: int = 0
    """Cyclical KL annealing (Fu et al. 2019): this many cycles over the run (0: off)."""
    kl_cycle_ratio: float = 0.5
    """Fraction of each cycle spent raising the KL weight."""
    free_bits: float = 0.0
    """Free bits (Kingma et al. 2016): nats of KL per latent dimension not penalised (0: off)."""
    capacity: float | None = None
    """β-VAE capacity annealing (Burgess et al. 2018): target KL in nats; the loss is γ|KL - C(t)|."""
    capacity_steps: int = 10_000
    """Steps over which the capacity target rises from 0."""
    capacity_gamma: float = 1000.0
    """γ of the capacity form."""
    sparsity: Literal["l1", "kl"] = "l1"
    """sparse-ae: L1 activity penalty, or KL towards a target activation rate (needs a sigmoid code)."""
    sparsity_weight: float = 1e-3
    """sparse-ae: weight of the sparsity penalty."""
    sparsity_target: float = 0.05
    """sparse-ae: target mean activation ρ of the KL penalty."""
    contractive_weight: float = 1e-2
    """contractive-ae: weight of the encoder's squared Jacobian norm."""
    commitment: float = 0.25
    """vq-vae: weight of the commitment loss ||z_e - sg(z_q)||^2."""
    gamma: float = 10.0
    """factor-vae: weight γ of the discriminator's total-correlation estimate (Kim & Mnih 2018)."""
    critic_lr: float = 1e-4
    """factor-vae, --adversarial: learning rate of the discriminators' Adam (betas 0.5, 0.9, as in the papers)."""
    adversarial: Literal["none", "patch"] = "none"
    """Any family: add a PatchGAN discriminator's hinge loss on reconstructions and prior samples (VAE-GAN,
    VQGAN), with VQGAN's adaptive weight; the model is then no longer trained on its ELBO alone."""
    adversarial_weight: float = 0.5
    """--adversarial: factor on the adaptive weight (1: the term pulls the decoder's last layer as hard as the loss)."""
    adversarial_start: int = 0
    """--adversarial: steps trained without the term first (the discriminator learns from the start)."""
    dip_type: Literal["i", "ii"] = "i"
    """dip-vae: penalise the covariance of the encoder means (i) or of q(z) itself (ii) (Kumar et al. 2018)."""
    dip_lambda_od: float = 10.0
    """dip-vae: weight of the off-diagonal covariance penalty."""
    dip_lambda_d: float | None = None
    """dip-vae: weight of the diagonal penalty (default: 10x --dip-lambda-od for type i, equal for type ii)."""
    reconstruction: Literal["likelihood", "ms-ssim"] = "likelihood"
    """vae families, autoencoders: train the reconstruction term on the likelihood, or on MS-SSIM (as MSSSIM-VAE,
    Snell et al. 2017; pytorch-msssim); the reported reconstruction stays the likelihood's."""
    ms_ssim_mix: float = 1.0
    """With --reconstruction ms-ssim: its share m of the term (1 - m) NLL + m D (1 - MS-SSIM), D the values per example."""
    groups: int = 4
    """miwae, piwae: M, the groups the --samples are split into; the bound averages M IWAE bounds of --samples / M each."""
    ciwae_beta: float = 0.5
    """ciwae: weight β of the ELBO in β ELBO + (1 - β) IWAE (Rainforth et al. 2018)."""
    mmd_weight: float = 100.0
    """wae, info-vae: weight λ of the MMD between the codes and prior samples."""
    kernel: Literal["imq", "rbf"] = "imq"
    """wae, info-vae: the MMD's kernel, inverse multiquadratic (Tolstikhin et al. 2018) or Gaussian."""
    info_alpha: float = 0.0
    """info-vae: α of Zhao et al. (2019); the KL weighs 1 - α, the MMD α + λ - 1."""
    code_weight: float = 1.0
    """rae: weight β of the code penalty (β/2)|z|^2 (Ghosh et al. 2020; β = 1 is the N(0, I) log-density's)."""
    gradient_penalty: float = 0.0
    """rae: weight of the decoder's squared Jacobian norm |dD(z)/dz|_F^2 (RAE-GP; 0: off; costs D extra backward passes)."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in (
            "beta",
            "kl_warmup_steps",
            "kl_cycles",
            "free_bits",
            "capacity_steps",
            "capacity_gamma",
            "sparsity_weight",
            "contractive_weight",
            "commitment",
            "gamma",
            "dip_lambda_od",
            "mmd_weight",
            "code_weight",
            "gradient_penalty",
            "adversarial_weight",
            "adversarial_start",
        ):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
        if self.adversarial == "none" and (self.adversarial_weight, self.adversarial_start) != (0.5, 0):
            raise ConfigError(
                "--adversarial-weight and --adversarial-start weigh the adversarial term: add --adversarial patch, or drop them"
            )
        if not self.critic_lr > 0:
            raise ConfigError(f"--critic-lr must be positive, got {self.critic_lr}")
        if self.dip_lambda_d is not None and not self.dip_lambda_d >= 0:
            raise ConfigError(f"--dip-lambda-d must be 0 or more, got {self.dip_lambda_d}")
        if not 0 < self.ms_ssim_mix <= 1:
            raise ConfigError(f"--ms-ssim-mix must be in (0, 1], got {self.ms_ssim_mix}")
        if self.groups < 1:
            raise ConfigError(f"--groups must be at least 1, got {self.groups}")
        if not self.info_alpha <= 1:
            raise ConfigError(f"--info-alpha must be at most 1 (the KL weighs 1 - α), got {self.info_alpha}")
        if not self.info_alpha + self.mmd_weight >= 1:
            raise ConfigError(
                f"--info-alpha + --mmd-weight must be at least 1 (the MMD weighs α + λ - 1), got {self.info_alpha + self.mmd_weight}"
            )
        if not 0 <= self.ciwae_beta <= 1:
            raise ConfigError(f"--ciwae-beta must be in [0, 1], got {self.ciwae_beta}")
        if not 0 < self.kl_cycle_ratio <= 1:
            raise ConfigError(f"--kl-cycle-ratio must be in (0, 1], got {self.kl_cycle_ratio}")
        if not 0 < self.sparsity_target < 1:
            raise ConfigError(f"--sparsity-target must be in (0, 1), got {self.sparsity_target}")
        if self.capacity is not None and not self.capacity >= 0:
            raise ConfigError(f"--capacity must be 0 or more nats, got {self.capacity}")
