"""Distributions with ``rsample / mode / log_prob / kl``: the posterior, the prior and likelihoods.

Every ``log_prob`` reduces over all non-batch dimensions of the distribution's own parameters and
returns nats with shape (B,), or (K, B) when given K samples stacked in front. A likelihood's
``log_prob`` first checks that the data lie in its support (a clear ``DataError``, never silent
garbage); the check reads a value back from the device, so the trainer, which checks every split
once before training, scores batches through ``unchecked()`` copies. Only ``errors`` is imported
from vaekit (a leaf module), so these classes can raise user-facing messages.
"""

from vaekit.distributions.latent import (
    LOG_2PI,
    DensityPrior,
    DiagonalGaussian,
    FlowPosterior,
    FullGaussianMixture,
    GaussianMixture,
    PointMass,
    Posterior,
    Prior,
    SequentialPosterior,
)
from vaekit.distributions.likelihoods import (
    COUNT_LIKELIHOODS,
    Bernoulli,
    ContinuousBernoulli,
    DiscretizedLogistic,
    Gaussian,
    Likelihood,
    NegativeBinomial,
    Poisson,
    ZeroInflatedNegativeBinomial,
    unchecked,
)

__all__ = [
    "COUNT_LIKELIHOODS",
    "LOG_2PI",
    "NegativeBinomial",
    "Poisson",
    "ZeroInflatedNegativeBinomial",
    "Bernoulli",
    "ContinuousBernoulli",
    "DiagonalGaussian",
    "DiscretizedLogistic",
    "FlowPosterior",
    "FullGaussianMixture",
    "Gaussian",
    "GaussianMixture",
    "DensityPrior",
    "Likelihood",
    "PointMass",
    "Posterior",
    "Prior",
    "SequentialPosterior",
    "unchecked",
]
