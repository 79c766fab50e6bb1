"""Likelihoods p(x|z): Bernoulli, continuous Bernoulli, Gaussian, discretized logistic, and for
counts Poisson, negative binomial and zero-inflated negative binomial.

Each ``log_prob`` first checks that the data lie in its support (a clear ``DataError``, never silent
garbage); the check reads a value back from the device, so the trainer, which checks every split
once before training, scores batches through ``unchecked()`` copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from vaekit.distributions.latent import LOG_2PI, _randn, _sum_event
from vaekit.errors import DataError


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


def _check_counts(x: torch.Tensor, what: str) -> None:
    bad = ~torch.isfinite(x) | (x < 0) | (x != torch.round(x))
    if bool(bad.any()):
        first = x[bad].flatten()[0].item()
        raise DataError(
            f"{what} needs counts (whole numbers >= 0) but the data hold {first:.6g}: give raw counts, not normalised values, "
            "or use --likelihood gaussian"
        )


def _library(x: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Each example's library size (total count), shaped to broadcast over its event: (..., B, 1, ...)."""
    return x.sum(dim=tuple(range(-event_dims, 0)), keepdim=True) if event_dims else x


def _nb_log_prob(x: torch.Tensor, log_mu: torch.Tensor, log_theta: torch.Tensor) -> torch.Tensor:
    """log NB(x; mean mu, inverse dispersion theta), elementwise (scVI's parameterisation):
    lgamma(x + theta) - lgamma(theta) - lgamma(x + 1) + theta log(theta / (theta + mu)) + x log(mu / (theta + mu))."""
    theta = torch.exp(log_theta)
    log_theta_mu = torch.logaddexp(log_theta, log_mu)  # log(theta + mu)
    return (
        torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1)
        + theta * (log_theta - log_theta_mu)
        + x * (log_mu - log_theta_mu)
    )  # fmt: skip


@dataclass(frozen=True)
class _Counts:
    """What the count likelihoods share: rates as fractions of the library size (scVI's rho).

    The decoder gives each example's expression as proportions ``log_rho`` (a log-softmax over the
    data dimensions); the mean count is rho times the library size. ``log_prob`` scales by the
    *observed* library of the x it scores (x.sum over the example), so the model explains the
    composition of the counts, not the depth of sequencing; ``mean`` and ``sample`` use
    ``library``, the training split's mean library size (or the one set by ``with_library``).

    Attributes:
        log_rho: (..., B, *event) log proportions, summing (in exp) to 1 over each example's event.
        library: the library size ``mean`` and ``sample`` use, broadcastable to (..., B, 1, ...).
    """

    log_rho: torch.Tensor
    library: torch.Tensor
    data_dims: int | None = None
    validate: bool = True

    @property
    def event_dims(self) -> int:
        return self.log_rho.dim() - 1 if self.data_dims is None else self.data_dims

    def _log_mu(self, x: torch.Tensor | None) -> torch.Tensor:
        library = self.library if x is None else _library(x, self.event_dims)
        return self.log_rho + torch.log(library.clamp(min=1e-8))

    @property
    def mean(self) -> torch.Tensor:
        return torch.exp(self._log_mu(None))

    def with_library(self, library: torch.Tensor) -> _Counts:
        """This distribution with ``mean`` and ``sample`` at ``library`` (e.g. an example's own total count)."""
        return replace(self, library=library)

    def check_support(self, x: torch.Tensor) -> None:
        _check_counts(x, f"the {self.NAME} likelihood")


@dataclass(frozen=True)
class Poisson(_Counts):
    """Independent Poisson counts with rate rho x library: log p = x log mu - mu - lgamma(x + 1)."""

    NAME = "poisson"

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        if self.validate:
            self.check_support(x)
        log_mu = self._log_mu(x)
        return _sum_event(x * log_mu - torch.exp(log_mu) - torch.lgamma(x + 1), self.event_dims)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.poisson(self.mean, generator=generator)


@dataclass(frozen=True)
class NegativeBinomial(_Counts):
    """Independent negative-binomial counts with mean rho x library and a learned inverse dispersion
    theta per data dimension (variance mu + mu^2 / theta; Lopez et al. 2018's scVI).

    Attributes:
        log_theta: log inverse dispersion, broadcastable to ``log_rho`` (one per gene).
    """

    log_theta: torch.Tensor = None  # type: ignore[assignment] -- always given by the head
    NAME = "negative-binomial"

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        if self.validate:
            self.check_support(x)
        return _sum_event(_nb_log_prob(x, self._log_mu(x), self.log_theta), self.event_dims)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        # Gamma-Poisson mixture: lambda ~ Gamma(theta, theta / mu), x ~ Poisson(lambda)
        theta = torch.exp(self.log_theta).expand_as(self.log_rho)
        rate = torch._standard_gamma(theta, generator=generator) * self.mean / theta
        return torch.poisson(rate, generator=generator)


@dataclass(frozen=True)
class ZeroInflatedNegativeBinomial(_Counts):
    """The negative binomial with extra zeros (scVI's ZINB): with probability pi = sigmoid(zi_logits),
    per cell and gene from the decoder, a count is a dropout zero; else it is NB(mu, theta).

    log p(0) = log(pi + (1 - pi) NB(0)), log p(x > 0) = log(1 - pi) + log NB(x), in log space.
    """

    log_theta: torch.Tensor = None  # type: ignore[assignment]
    zi_logits: torch.Tensor = None  # type: ignore[assignment]
    NAME = "zinb"

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        if self.validate:
            self.check_support(x)
        nb = _nb_log_prob(x, self._log_mu(x), self.log_theta)
        log_pi, log_not_pi = -F.softplus(-self.zi_logits), -F.softplus(self.zi_logits)
        ll = torch.where(x == 0, torch.logaddexp(log_pi, log_not_pi + nb), log_not_pi + nb)
        return _sum_event(ll, self.event_dims)

    @property
    def mean(self) -> torch.Tensor:
        return torch.sigmoid(-self.zi_logits) * torch.exp(self._log_mu(None))

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        nb = NegativeBinomial(self.log_rho, self.library, self.data_dims, self.validate, self.log_theta)
        keep = torch.rand(self.zi_logits.shape, generator=generator, device=self.zi_logits.device) >= torch.sigmoid(self.zi_logits)
        return nb.sample(generator) * keep


COUNT_LIKELIHOODS = ("poisson", "negative-binomial", "zinb")
Likelihood = Bernoulli | Gaussian | ContinuousBernoulli | DiscretizedLogistic | Poisson | NegativeBinomial | ZeroInflatedNegativeBinomial


def unchecked(likelihood: Likelihood) -> Likelihood:
    """A copy of ``likelihood`` whose ``log_prob`` skips the support check (for data checked before)."""
    return replace(likelihood, validate=False)
