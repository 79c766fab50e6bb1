"""Distributions over the latent z: the Gaussian posterior and prior, a Gaussian mixture (the
VampPrior), a flow's posterior, a hierarchy's posterior and prior, and an autoencoder's point mass.

Every ``log_prob`` reduces over the event dimension and returns nats with shape (B,), or (K, B)
when given K samples stacked in front; ``rsample`` takes the generator it draws from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

LOG_2PI = math.log(2.0 * math.pi)


def _sum_event(t: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Sum the trailing ``event_dims`` dimensions: (..., *event) -> (...)."""
    return t.sum(dim=tuple(range(-event_dims, 0))) if event_dims > 0 else t


def _randn(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=like.device)


@dataclass(frozen=True)
class DiagonalGaussian:
    """N(mu, diag(exp(logvar))) over vectors; batch shape (B,), event shape (D,).

    Attributes:
        mu: means, (B, D).
        logvar: log variances (the log of sigma squared), (B, D).
    """

    mu: torch.Tensor
    logvar: torch.Tensor

    @staticmethod
    def standard(batch: int, dim: int, like: torch.Tensor) -> DiagonalGaussian:
        """The N(0, I) prior with batch size ``batch`` and event size ``dim``."""
        zeros = torch.zeros(batch, dim, dtype=like.dtype, device=like.device)  # (B, D)
        return DiagonalGaussian(zeros, zeros)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)  # (B, D)

    @property
    def mean(self) -> torch.Tensor:
        return self.mu

    def mode(self) -> torch.Tensor:
        return self.mu

    def rsample(self, generator: torch.Generator | None = None, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Reparameterized sample z = mu + eps * sigma (Kingma & Welling 2014, eq. 10); ``temperature``
        scales sigma (below 1: more typical samples, as in sampling a prior at T < 1).

        Returns:
            (B, D), or (n, B, D) when ``n`` is given.
        """
        shape = tuple(self.mu.shape) if n is None else (n, *self.mu.shape)
        eps = _randn(shape, self.mu, generator)  # (B, D) or (n, B, D)
        return self.mu + eps * (self.std if temperature == 1.0 else self.std * temperature)

    def rsample_with_log_prob(self, generator: torch.Generator | None = None, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterized sample and log q(z) at it: ((B, D), (B,)) or ((n, B, D), (n, B))."""
        z = self.rsample(generator, n)  # (B, D) or (n, B, D)
        return z, self.log_prob(z)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; mu, sigma^2) summed over D: (..., B, D) -> (..., B)."""
        sq = (z - self.mu) ** 2 * torch.exp(-self.logvar)  # (..., B, D)
        return -0.5 * _sum_event(LOG_2PI + self.logvar + sq, 1)

    def kl(self, other: DiagonalGaussian | None = None) -> torch.Tensor:
        """Closed-form KL(self || other), other = N(0, I) when None; shape (B,).

        Against N(0, I) this is the seed's appendix formula
        0.5 * sum_i (sigma_i^2 + mu_i^2 - 1 - log sigma_i^2).
        """
        return self.kl_per_dim(other).sum(-1)

    def kl_per_dim(self, other: DiagonalGaussian | None = None) -> torch.Tensor:
        """The closed-form KL of each latent dimension, (B, D) (free bits, KL per dimension)."""
        # sigma^2 - 1 - log sigma^2 is written expm1(d) - d: the plain form cancels to a slightly
        # negative KL when logvar is tiny; this one is accurate and never below zero.
        if other is None:
            return 0.5 * (torch.expm1(self.logvar) - self.logvar + self.mu**2)  # (B, D)
        # KL(N0||N1) = 0.5 * (logvar1 - logvar0 + (var0 + (mu0 - mu1)^2) / var1 - 1), per dimension
        d = self.logvar - other.logvar  # (B, D)
        return 0.5 * (torch.expm1(d) - d + (self.mu - other.mu) ** 2 * torch.exp(-other.logvar))  # (B, D)


@dataclass(frozen=True)
class GaussianMixture:
    """A mixture of M diagonal Gaussians over vectors, the same for each of ``batch`` examples (the
    VampPrior's p(z) = (1/M) sum_m q(z|u_m); Tomczak & Welling 2018, eq. 9).

    Attributes:
        mu: component means, (M, D).
        logvar: component log variances, (M, D).
        batch: B, the examples ``rsample`` draws for (a prior is asked for one per example).
        log_weights: log mixing weights (M,), normalised; None for equal weights 1/M.
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    batch: int
    log_weights: torch.Tensor | None = None

    def _log_weights(self) -> torch.Tensor:
        if self.log_weights is not None:
            return self.log_weights  # (M,)
        return torch.full(self.mu.shape[:1], -math.log(self.mu.shape[0]), dtype=self.mu.dtype, device=self.mu.device)  # (M,)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log sum_m w_m N(z; mu_m, sigma_m^2): (..., D) -> (...).

        sum_d (z_d - mu_md)^2 / var_md is expanded into two (N, D) x (D, M) matrix products, so
        memory is (N, M), not (N, M, D): K = 5000 samples of 100 examples against 500 components.
        """
        shape, d = z.shape[:-1], z.shape[-1]
        flat = z.reshape(-1, d)  # (N, D)
        precision = torch.exp(-self.logvar)  # (M, D)
        constant = d * LOG_2PI + self.logvar.sum(-1) + (self.mu**2 * precision).sum(-1)  # (M,)
        square = (flat**2) @ precision.T - 2.0 * flat @ (self.mu * precision).T + constant  # (N, M)
        return torch.logsumexp(self._log_weights() - 0.5 * square, dim=-1).reshape(shape)  # (...)

    def rsample(self, generator: torch.Generator | None = None, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Pick a component by its weight, then sample it (reparameterized given the component).

        Returns:
            (B, D), or (n, B, D) when ``n`` is given.
        """
        count = self.batch if n is None else n * self.batch
        index = torch.multinomial(self._log_weights().exp(), count, replacement=True, generator=generator)  # (count,)
        eps = _randn((count, self.mu.shape[1]), self.mu, generator)  # (count, D)
        z = self.mu[index] + eps * torch.exp(0.5 * self.logvar[index]) * temperature  # (count, D)
        return z if n is None else z.reshape(n, self.batch, -1)


@dataclass(frozen=True)
class FlowPosterior:
    """A diagonal Gaussian pushed through an invertible map: z = f(z0), z0 ~ N(mu, sigma^2), with
    log q(z) = log N(z0; mu, sigma^2) - log |det df/dz0| (Rezende & Mohamed 2015, eq. 6).

    The density is known only at the samples the flow made (planar and radial flows have no
    closed-form inverse), so objectives use ``rsample_with_log_prob``: the KL is a Monte-Carlo
    estimate, never the closed form.

    Attributes:
        base: q0(z0|x), (B, D).
        flow: z0 (..., D) -> (z (..., D), log |det df/dz0| (...)).
    """

    base: DiagonalGaussian
    flow: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

    def rsample_with_log_prob(self, generator: torch.Generator | None = None, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples z and their log q(z|x): ((B, D), (B,)) or ((n, B, D), (n, B))."""
        z0 = self.base.rsample(generator, n)  # (B, D) or (n, B, D)
        z, log_det = self.flow(z0)  # (..., D), (...)
        return z, self.base.log_prob(z0) - log_det

    def rsample(self, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
        return self.rsample_with_log_prob(generator, n)[0]

    def mode(self) -> torch.Tensor:
        """f(mu), the flow applied to the base mean: the point the latent tools use for an example, (B, D)."""
        return self.flow(self.base.mu)[0]

    @property
    def mean(self) -> torch.Tensor:
        return self.mode()


@dataclass(frozen=True)
class SequentialPosterior:
    """q(z|x) drawn by the model's own procedure, one layer after another (a hierarchical VAE's
    top-down pass); like a flow's, its density is known at its own samples.

    Attributes:
        sampler: (generator, n, mode) -> (z (B, D) or (n, B, D), log q(z|x) (B,) or (n, B)); with
            ``mode`` every layer takes its conditional mean instead of a sample.
    """

    sampler: Callable[[torch.Generator | None, int | None, bool], tuple[torch.Tensor, torch.Tensor]]

    def rsample_with_log_prob(self, generator: torch.Generator | None = None, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sampler(generator, n, False)

    def rsample(self, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
        return self.sampler(generator, n, False)[0]

    def mode(self) -> torch.Tensor:
        """Each layer's conditional mean given the means above it, (B, D)."""
        return self.sampler(None, None, True)[0]

    @property
    def mean(self) -> torch.Tensor:
        return self.mode()


@dataclass(frozen=True)
class DensityPrior:
    """A p(z) given by a model's own density and sampler: a hierarchical VAE's
    p(z_L) prod_l p(z_l | z_{l+1}) over the layers' concatenation, or a flow fitted to the codes.

    Attributes:
        density: z (..., D) -> log p(z) (...).
        sampler: (generator, count, temperature) -> (count, D) (a hierarchy samples ancestrally;
            its temperature is one number or one per layer, bottom to top, scaling each sigma).
        batch: B, the examples ``rsample`` draws for.
    """

    density: Callable[[torch.Tensor], torch.Tensor]
    sampler: Callable[[torch.Generator | None, int, float | tuple[float, ...]], torch.Tensor]
    batch: int

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return self.density(z)

    def rsample(
        self, generator: torch.Generator | None = None, n: int | None = None, temperature: float | tuple[float, ...] = 1.0
    ) -> torch.Tensor:
        z = self.sampler(generator, self.batch * (n or 1), temperature)  # (count, D)
        return z if n is None else z.reshape(n, self.batch, -1)


@dataclass(frozen=True)
class FullGaussianMixture:
    """A mixture of M full-covariance Gaussians (a GMM fitted to a model's codes), the same for each of
    ``batch`` examples.

    Attributes:
        mu: component means, (M, D).
        scale_tril: lower Cholesky factors L of the covariances L L^T, (M, D, D).
        log_weights: normalised log mixing weights, (M,).
        batch: B, the examples ``rsample`` draws for.
    """

    mu: torch.Tensor
    scale_tril: torch.Tensor
    log_weights: torch.Tensor
    batch: int

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log sum_m w_m N(z; mu_m, L_m L_m^T): (..., D) -> (...)."""
        shape, d = z.shape[:-1], z.shape[-1]
        diff = z.reshape(1, -1, d) - self.mu.unsqueeze(1)  # (M, N, D)
        white = torch.linalg.solve_triangular(self.scale_tril, diff.transpose(1, 2), upper=False)  # (M, D, N)
        log_det = torch.diagonal(self.scale_tril, dim1=-2, dim2=-1).log().sum(-1)  # (M,)
        log_n = -0.5 * (d * LOG_2PI + white.pow(2).sum(1)) - log_det.unsqueeze(1)  # (M, N)
        return torch.logsumexp(self.log_weights.unsqueeze(1) + log_n, dim=0).reshape(shape)

    def rsample(self, generator: torch.Generator | None = None, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Pick a component by its weight, then z = mu + temperature L eps: (B, D) or (n, B, D)."""
        count = self.batch if n is None else n * self.batch
        index = torch.multinomial(self.log_weights.exp(), count, replacement=True, generator=generator)  # (count,)
        eps = _randn((count, self.mu.shape[1], 1), self.mu, generator)  # (count, D, 1)
        z = self.mu[index] + temperature * (self.scale_tril[index] @ eps).squeeze(-1)  # (count, D)
        return z if n is None else z.reshape(n, self.batch, -1)


Posterior = DiagonalGaussian | FlowPosterior | SequentialPosterior
Prior = DiagonalGaussian | GaussianMixture | FullGaussianMixture | DensityPrior


@dataclass(frozen=True)
class PointMass:
    """The 'posterior' of a deterministic autoencoder: all mass on one code, (B, D)."""

    value: torch.Tensor

    @property
    def mean(self) -> torch.Tensor:
        return self.value

    def mode(self) -> torch.Tensor:
        return self.value

    def rsample(self, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
        return self.value if n is None else self.value.expand(n, *self.value.shape)
