"""Distributions with ``rsample / mode / log_prob / kl``: the posterior, the prior and likelihoods.

Every ``log_prob`` reduces over all non-batch dimensions of the distribution's own parameters and
returns nats with shape (B,), or (K, B) when given K samples stacked in front. A likelihood's
``log_prob`` first checks that the data lie in its support (a clear ``DataError``, never silent
garbage); the check reads a value back from the device, so the trainer, which checks every split
once before training, scores batches through ``unchecked()`` copies. Only ``errors`` is imported
from vaekit (a leaf module), so these classes can raise user-facing messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from vaekit.errors import DataError

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
class HierarchicalPrior:
    """p(z) = p(z_L) prod_l p(z_l | z_{l+1}) of a hierarchical VAE, over the layers' concatenation.

    Attributes:
        density: z (..., D) -> log p(z) (...).
        sampler: (generator, count, temperature) -> (count, D) by ancestral sampling; the
            temperature is one number or one per layer (bottom to top), scaling each layer's sigma.
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


Posterior = DiagonalGaussian | FlowPosterior | SequentialPosterior
Prior = DiagonalGaussian | GaussianMixture | HierarchicalPrior


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


def _check_unit_interval(x: torch.Tensor, what: str) -> None:
    if not torch.is_floating_point(x):
        x = x.float()
    bad = (x < 0) | (x > 1) | torch.isnan(x)
    if bool(bad.any()):
        lo, hi = float(torch.nan_to_num(x, nan=-1.0).min()), float(x.max())
        raise DataError(
            f"{what} needs data in [0, 1] but got values in [{lo:.4g}, {hi:.4g}]: "
            "scale the data to [0, 1] (divide 8-bit images by 255) or use --likelihood gaussian"
        )


@dataclass(frozen=True)
class Bernoulli:
    """Independent Bernoulli pixels parameterised by logits, event shape = the data shape.

    Uses the logits form (binary cross-entropy with logits), never sigmoid-then-log, so
    log-probabilities stay finite when the decoder is confident. For grey-level x in [0, 1] this
    is the usual 'continuous targets' cross-entropy of pytorch/examples' VAE (not a normalised
    density); for binary x it is the exact log-likelihood.

    Attributes:
        logits: (..., B, C, H, W) or (..., B, D_x).
        data_dims: how many trailing dimensions are one example (3 for C, H, W); default: all
            but the first. Decoders set it, so K samples stacked in front reduce correctly.
        validate: check the data's support in ``log_prob`` (see ``unchecked``).
    """

    logits: torch.Tensor
    data_dims: int | None = None
    validate: bool = True

    @property
    def event_dims(self) -> int:
        return self.logits.dim() - 1 if self.data_dims is None else self.data_dims

    @property
    def mean(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def check_support(self, x: torch.Tensor) -> None:
        _check_unit_interval(x, "the Bernoulli likelihood")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """sum_i x_i log p_i + (1 - x_i) log(1 - p_i): (..., B, *event) -> (..., B)."""
        if self.validate:
            self.check_support(x)
        # BCE(l, x) = softplus(l) - x l, written out: binary_cross_entropy_with_logits fills three
        # constant tensors per call and needs x broadcast to the (K, B, ...) logits first, which
        # made it 2-3x slower than these two passes (bench/README.md, "Training throughput").
        nll = F.softplus(self.logits).addcmul_(x, self.logits, value=-1.0)  # (..., B, *event); x broadcasts
        return -_sum_event(nll, self.event_dims)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.bernoulli(self.mean, generator=generator)


@dataclass(frozen=True)
class Gaussian:
    """Independent Gaussian outputs N(mean, exp(logvar)); logvar is fixed or learned.

    Attributes:
        mean: (..., B, C, H, W) or (..., B, D_x).
        logvar: broadcastable to ``mean`` (a scalar tensor for fixed variance).
        data_dims: trailing dimensions of one example, as for ``Bernoulli``.
    """

    mean: torch.Tensor
    logvar: torch.Tensor
    data_dims: int | None = None
    validate: bool = True

    @property
    def event_dims(self) -> int:
        return self.mean.dim() - 1 if self.data_dims is None else self.data_dims

    def check_support(self, x: torch.Tensor) -> None:
        if not bool(torch.isfinite(x).all()):
            raise DataError("the Gaussian likelihood got NaN or infinite data values: clean the data first")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; mean, var) summed over the data dims: (..., B, *event) -> (..., B)."""
        if self.validate:
            self.check_support(x)
        sq = (x - self.mean) ** 2 * torch.exp(-self.logvar)  # (..., B, *event)
        return -0.5 * _sum_event(LOG_2PI + self.logvar + sq, self.event_dims)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = _randn(tuple(self.mean.shape), self.mean, generator)
        return self.mean + eps * torch.exp(0.5 * self.logvar)


_TAYLOR = 1e-2  # |logits| below this use series expansions (the closed forms divide 0 by 0)


def _log_tanh(a: torch.Tensor) -> torch.Tensor:
    """log tanh(a) for a > 0, stable: log1p(-e^{-2a}) - log1p(e^{-2a})."""
    e = torch.exp(-2.0 * a)
    return torch.log1p(-e) - torch.log1p(e)


@dataclass(frozen=True)
class ContinuousBernoulli:
    """The continuous Bernoulli (Loaiza-Ganem & Cunningham 2019): a normalised density on [0, 1].

    p(x | eta) = C(eta) lambda^x (1 - lambda)^(1 - x) with lambda = sigmoid(eta). The cross-entropy
    of pixels in [0, 1] is not a density; this adds the missing log-normaliser
    log C = log(eta / tanh(eta / 2)) (-> log 2 as eta -> 0), so grey-level likelihoods are proper.

    Attributes:
        logits: eta, (..., B, C, H, W).
        data_dims: trailing dimensions of one example, as for ``Bernoulli``.
    """

    logits: torch.Tensor
    data_dims: int | None = None
    validate: bool = True

    @property
    def event_dims(self) -> int:
        return self.logits.dim() - 1 if self.data_dims is None else self.data_dims

    def log_normalizer(self) -> torch.Tensor:
        """log C(eta) elementwise."""
        eta = self.logits
        a = eta.abs().clamp(min=_TAYLOR)
        exact = torch.log(a) - _log_tanh(a / 2)
        series = math.log(2.0) + eta**2 / 12 - 7 * eta**4 / 1440
        return torch.where(eta.abs() < _TAYLOR, series, exact)

    @property
    def mean(self) -> torch.Tensor:
        """E[x] = 1/2 + 1 / (2 tanh(eta / 2)) - 1 / eta (not lambda)."""
        eta = self.logits
        safe = torch.where(eta.abs() < _TAYLOR, torch.full_like(eta, _TAYLOR), eta)
        exact = 0.5 + 0.5 / torch.tanh(safe / 2) - 1.0 / safe
        return torch.where(eta.abs() < _TAYLOR, 0.5 + eta / 12 - eta**3 / 720, exact)

    def check_support(self, x: torch.Tensor) -> None:
        _check_unit_interval(x, "the continuous Bernoulli likelihood")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """-BCE(eta, x) + log C(eta), summed over the data dims: (..., B, *event) -> (..., B)."""
        if self.validate:
            self.check_support(x)
        logits, x = torch.broadcast_tensors(self.logits, x)
        ll = -F.binary_cross_entropy_with_logits(logits, x, reduction="none") + self.log_normalizer()
        return _sum_event(ll, self.event_dims)


@dataclass(frozen=True)
class DiscretizedLogistic:
    """A logistic per value, integrated over 8-bit bins (Salimans et al. 2017, PixelCNN++).

    Data are on the grid k / 255 in [0, 1]; value k gets the logistic mass of
    [x - 1/510, x + 1/510], with the edge bins stretched to -inf and +inf. log_prob is then an
    exact discrete log-likelihood, so bits/dim is a true code length for 8-bit images.

    Attributes:
        mean: logistic locations, (..., B, C, H, W).
        log_scale: log of the logistic scales, broadcastable to ``mean``.
        data_dims: trailing dimensions of one example.
    """

    mean: torch.Tensor
    log_scale: torch.Tensor
    data_dims: int | None = None
    levels: int = 256
    validate: bool = True

    @property
    def event_dims(self) -> int:
        return self.mean.dim() - 1 if self.data_dims is None else self.data_dims

    def check_support(self, x: torch.Tensor) -> None:
        _check_unit_interval(x, "the discretized logistic likelihood")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log P(bin of x) summed over the data dims: (..., B, *event) -> (..., B)."""
        if self.validate:
            self.check_support(x)
        half = 0.5 / (self.levels - 1)
        inv_s = torch.exp(-self.log_scale)
        centered = x - self.mean  # (..., B, *event)
        plus, minus = inv_s * (centered + half), inv_s * (centered - half)
        log_cdf_plus = F.logsigmoid(plus)  # the bottom bin: log sigma(plus)
        log_one_minus_cdf_minus = -F.softplus(minus)  # the top bin: log(1 - sigma(minus))
        # interior bins: log(sigma(plus) - sigma(minus)), computed as
        # log sigma(plus) + log(1 - exp(log sigma(minus) - log sigma(plus)))
        log_mid = log_cdf_plus + torch.log(-torch.expm1((F.logsigmoid(minus) - log_cdf_plus).clamp(max=-1e-12)))
        low, high = x < half, x > 1 - half
        ll = torch.where(low, log_cdf_plus, torch.where(high, log_one_minus_cdf_minus, log_mid))
        return _sum_event(ll, self.event_dims)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand(self.mean.shape, generator=generator, device=self.mean.device).clamp(1e-5, 1 - 1e-5)
        x = self.mean + torch.exp(self.log_scale) * (torch.log(u) - torch.log1p(-u))
        return (x.clamp(0, 1) * (self.levels - 1)).round() / (self.levels - 1)


Likelihood = Bernoulli | Gaussian | ContinuousBernoulli | DiscretizedLogistic


def unchecked(likelihood: Likelihood) -> Likelihood:
    """A copy of ``likelihood`` whose ``log_prob`` skips the support check (for data checked before)."""
    return replace(likelihood, validate=False)
