"""A hierarchical VAE with L stochastic layers and top-down inference (the ladder VAE's structure,
Sønderby et al. 2016, with NVAE's residual posterior, Vahdat & Kautz 2020).

Generation runs top-down: z_L ~ N(0, I), then z_l ~ p(z_l | z_{l+1}) = N(mu_p, sigma_p^2) from a
top-down cell, and x ~ p(x | z_1, t_1) where t_1 are the top-down features of z_2 (so every layer
reaches x). Inference runs a bottom-up pass over x once, then the *same* top-down cells: the
posterior of each layer is its prior shifted by what the bottom-up features say,
q(z_l | z_{l+1}, x) = N(mu_p + dmu, sigma_p^2 exp(dlogvar)). Both layers' Gaussians are known at
the sampled z_{l+1}, so each layer's KL is in closed form (``kl_layers``), and free bits and
warm-up act per layer.

The flat latent is the concatenation [z_1, ..., z_L] (bottom layer first), so the latent tools
(interpolation, traversals, attribute vectors) work on all layers at once.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from vaekit.distributions import DensityPrior, DiagonalGaussian, GaussianMixture, Likelihood, SequentialPosterior
from vaekit.errors import ConfigError
from vaekit.models import networks
from vaekit.models.base import LatentModel
from vaekit.models.networks import ACTIVATIONS, LikelihoodHead, mlp
from vaekit.models.vae import pseudo_inputs, vamp_init
from vaekit.types import ModelOutput

if TYPE_CHECKING:
    from vaekit.models.config import ModelConfig


def _gaussian(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu, logvar = params.chunk(2, dim=-1)  # (..., D) each
    return mu, logvar


class HierarchicalVAE(LatentModel):
    """L stochastic layers of sizes ``layer_dims`` (bottom to top), top-down inference.

    The bottom-up path is the arch's encoder (x -> features of ``hidden[-1]`` units, or of the conv
    net's dense size) then an MLP of ``ladder_hidden`` per layer above; each top-down cell is an
    MLP of ``ladder_hidden`` from z_{l+1}; the decoder is the arch's decoder from [z_1, t_1].
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.layer_dims = tuple(config.layer_dims) or (config.latent_dim,) * config.layers
        dims, ladder, act = self.layer_dims, config.ladder_hidden, config.activation
        self.latent_dim, self.data_shape = sum(dims), tuple(config.input_shape)
        self.samples = config.samples
        first = config.hidden[-1] if config.arch == "mlp" else (config.dense[-1] if config.dense else 256)
        widths = [first] + [ladder[-1]] * (len(dims) - 1)  # features of each bottom-up level, (F_l)
        if config.arch == "mlp":  # x -> hidden, the last hidden layer being the first level's features
            up: list[nn.Module] = [networks.FlatMLP(*mlp([math.prod(config.input_shape), *config.hidden], act, final_activation=act))]
        else:  # the conv net (to its dense size, or 256 units), then the activation
            up = [nn.Sequential(networks.encoder(config, first), ACTIVATIONS[act]())]
        up += [mlp([widths[i - 1], *ladder], act, final_activation=act) for i in range(1, len(dims))]
        self.bottom_up = nn.ModuleList(up)
        self.top = nn.Linear(widths[-1], 2 * dims[-1])  # q(z_L | x)
        t = ladder[-1]  # top-down feature width
        self.cells = nn.ModuleList([mlp([dims[i + 1], *ladder], act, final_activation=act) for i in range(len(dims) - 1)])
        self.prior_heads = nn.ModuleList([nn.Linear(t, 2 * dims[i]) for i in range(len(dims) - 1)])
        self.posterior_heads = nn.ModuleList([nn.Linear(t + widths[i], 2 * dims[i]) for i in range(len(dims) - 1)])
        skip = t if len(dims) > 1 else 0
        self.decoder = networks.decoder(replace(config, latent_dim=dims[0] + skip))
        self.head = LikelihoodHead(
            config.likelihood, config.input_shape, config.output_activation, config.gaussian_std, config.learn_variance
        )
        self.bounded = config.output_activation == "sigmoid"  # images in [0, 1]: pseudo-inputs stay pixels
        self.pseudo = None  # the top layer's VampPrior pseudo-inputs, (M, C, H, W), when --top-prior vamp
        if config.top_prior == "vamp":
            self.pseudo = nn.Parameter(vamp_init(config))

    def _top_prior(self, like: torch.Tensor) -> DiagonalGaussian | GaussianMixture:
        """p(z_L): N(0, I), or the mixture of q(z_L | u_m) over the pseudo-inputs (Tomczak & Welling 2018's HVAE + VampPrior)."""
        if self.pseudo is None:
            return DiagonalGaussian.standard(1, self.layer_dims[-1], like)  # (1, D_L): broadcasts over the batch
        u = pseudo_inputs(self.pseudo, self.bounded)  # (M, C, H, W)
        components = DiagonalGaussian(*_gaussian(self.top(self._features(u)[-1])))  # (M, D_L)
        return GaussianMixture(components.mu, components.logvar, 1)

    def split(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The flat latent (..., D) as its layers [z_1 (..., D_1), ..., z_L (..., D_L)]."""
        return list(z.split(self.layer_dims, dim=-1))

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats, h = [], x
        for level in self.bottom_up:
            h = level(h)  # (B, F_l)
            feats.append(h)
        return feats

    def _top_down(
        self, feats: list[torch.Tensor], generator: torch.Generator | None, n: int | None, mode: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (or take the means of) every layer from the top: (z (..., D), log q (...),
        log p(z) (...), per-layer KL (..., L) bottom to top), with ... = (B,) or (n, B)."""
        q = DiagonalGaussian(*_gaussian(self.top(feats[-1])))  # (B, D_L)
        z = q.mu if mode else q.rsample(generator, n)  # (..., D_L)
        top = self._top_prior(z)
        log_q, log_p = q.log_prob(z), top.log_prob(z)  # (...)
        # the top layer's KL: closed form against N(0, I), else log q - log p at the sample (a VampPrior)
        layers, kls = [z], [q.kl().expand(z.shape[:-1]) if isinstance(top, DiagonalGaussian) else log_q - log_p]
        for i in reversed(range(len(self.layer_dims) - 1)):
            t = self.cells[i](z)  # (..., T)
            mu_p, logvar_p = _gaussian(self.prior_heads[i](t))  # (..., D_i)
            h = feats[i].expand(*t.shape[:-1], feats[i].shape[-1])  # (..., F_i)
            d_mu, d_logvar = _gaussian(self.posterior_heads[i](torch.cat([t, h], dim=-1)))  # (..., D_i)
            q, p = DiagonalGaussian(mu_p + d_mu, logvar_p + d_logvar), DiagonalGaussian(mu_p, logvar_p)
            z = q.mu if mode else q.rsample(generator)  # (..., D_i)
            log_q, log_p = log_q + q.log_prob(z), log_p + p.log_prob(z)
            layers.insert(0, z)
            kls.insert(0, q.kl(p))
        return torch.cat(layers, dim=-1), log_q, log_p, torch.stack(kls, dim=-1)

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> SequentialPosterior:
        return self._posterior(self._features(x))  # the bottom-up pass, once for every sample drawn from it

    def _posterior(self, feats: list[torch.Tensor]) -> SequentialPosterior:
        def sampler(generator: torch.Generator | None, n: int | None, mode: bool) -> tuple[torch.Tensor, torch.Tensor]:
            z, log_q, _, _ = self._top_down(feats, generator, n, mode)
            return z, log_q

        return SequentialPosterior(sampler)

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> Likelihood:
        layers = self.split(z)
        h = layers[0] if len(layers) == 1 else torch.cat([layers[0], self.cells[0](layers[1])], dim=-1)  # (..., D_1 + T)
        return self.head(self.decoder(h))  # (..., C, H, W)

    def _log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = log N(z_L; 0, I) + sum_l log p(z_l | z_{l+1}): (..., D) -> (...)."""
        layers = self.split(z)
        total = self._top_prior(z).log_prob(layers[-1])  # (...)
        for i in range(len(layers) - 1):
            p = DiagonalGaussian(*_gaussian(self.prior_heads[i](self.cells[i](layers[i + 1]))))  # (..., D_i)
            total = total + p.log_prob(layers[i])
        return total

    def _ancestral(self, generator: torch.Generator | None, count: int, temperature: float | tuple[float, ...]) -> torch.Tensor:
        """count samples of p(z), each layer's sigma times its temperature (bottom to top), (count, D)."""
        temps = (temperature,) * len(self.layer_dims) if isinstance(temperature, int | float) else tuple(temperature)
        if len(temps) != len(self.layer_dims):
            raise ConfigError(f"give one temperature, or one per layer ({len(self.layer_dims)}), not {len(temps)}")
        top = self._top_prior(self.top.weight)
        z = top.rsample(generator, n=count, temperature=temps[-1]).reshape(count, -1)  # (count, D_L)
        layers = [z]
        for i in reversed(range(len(self.layer_dims) - 1)):
            z = DiagonalGaussian(*_gaussian(self.prior_heads[i](self.cells[i](z)))).rsample(generator, temperature=temps[i])  # (count, D_i)
            layers.insert(0, z)
        return torch.cat(layers, dim=-1)

    def prior(self, n: int, like: torch.Tensor | None = None) -> DensityPrior:
        return DensityPrior(self._log_prior, self._ancestral, n)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, condition: torch.Tensor | None = None) -> ModelOutput:
        """One top-down pass: K samples of every layer (``samples``), their log q, and each layer's KL."""
        feats = self._features(x)  # (B, F_l) each
        z, log_q, log_p, kls = self._top_down(feats, generator, self.samples if self.samples > 1 else None, mode=False)
        return ModelOutput(
            posterior=self._posterior(feats),
            z=z,
            likelihood=self.decode(z),
            prior=self.prior(x.shape[0]),
            log_q=log_q,
            log_p=log_p,
            kl_layers=kls,
            decode=self.decode,
        )
