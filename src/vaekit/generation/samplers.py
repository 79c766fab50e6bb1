"""Samplers fitted after training: a density over the codes the encoder gives the training split,
sampled instead of (or, for autoencoders, in the absence of) the prior.

Decoding samples of N(0, I) is blurry where the aggregate posterior q(z) does not fill the prior;
a density fitted to the codes themselves puts samples where the decoder was trained (the "ex-post
density estimation" of Ghosh et al. 2020, the two-stage finding of Dai & Wipf 2019; pythae's
benchmarks). Both samplers here fit the posterior means (the codes, for an autoencoder):

- ``gmm``: scikit-learn's ``GaussianMixture`` with full covariances, as a ``FullGaussianMixture``;
- ``flow``: a masked autoregressive flow (``models.flows.MAF``) trained by maximum likelihood,
  keeping the weights with the best log-likelihood of the validation split's codes.

A VQ-VAE's codes are discrete: its fitted sampler is ``autoregressive``, a causal transformer over
the slots (``models.code_prior.CodeTransformer``), in place of the per-slot categorical prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vaekit.data import InMemoryDataset
from vaekit.distributions import DensityPrior, FullGaussianMixture
from vaekit.errors import ConfigError
from vaekit.generation.encode import encode_split, posterior_means
from vaekit.models import LatentModel
from vaekit.models.code_prior import CodeTransformer
from vaekit.models.flows import MAF
from vaekit.runtime.checks import at_least

SAMPLERS = ("gmm", "flow", "autoregressive")


@dataclass(frozen=True)
class FittedSampler:
    """A density fitted to a model's codes and how well it fits.

    Attributes:
        kind: ``gmm`` or ``flow``.
        prior: the density, a prior-like object (``log_prob``, ``rsample``).
        tensors: what ``run.save_sampler`` stores (safetensors), with ``options`` (JSON).
        train_log_likelihood, valid_log_likelihood: mean log-density of the codes it was fitted
            to and of the validation split's codes, nats per example.
    """

    kind: str
    prior: FullGaussianMixture | DensityPrior | CodeTransformer
    tensors: dict[str, torch.Tensor]
    options: dict[str, int | float]
    train_log_likelihood: float
    valid_log_likelihood: float


def _mean_log_density(prior: FullGaussianMixture | DensityPrior, codes: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.cat([prior.log_prob(c) for c in codes.split(4096)]).double().mean())


def fit_gmm(train: torch.Tensor, components: int, seed: int) -> dict[str, torch.Tensor]:
    """A full-covariance GMM of the codes (N, D), by scikit-learn's EM (k-means start, seeded)."""
    from sklearn.mixture import GaussianMixture  # a heavy import, needed only here

    gmm = GaussianMixture(n_components=components, covariance_type="full", reg_covar=1e-6, random_state=seed, max_iter=200)
    gmm.fit(train.double().numpy())
    chol = np.linalg.cholesky(gmm.covariances_)  # (M, D, D)
    return {
        "means": torch.from_numpy(gmm.means_).float(),
        "scale_tril": torch.from_numpy(chol).float(),
        "log_weights": torch.from_numpy(np.log(gmm.weights_)).float(),
    }


def fit_flow(train: torch.Tensor, valid: torch.Tensor, epochs: int, seed: int, layers: int = 5, hidden: int = 128) -> MAF:
    """A MAF fitted to the codes (N, D) by Adam on their negative log-likelihood, batch 256; the
    weights of the epoch with the best validation log-likelihood are kept."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        flow = MAF(train.shape[1], hidden, layers)
    flow.shift.copy_(train.mean(0))
    flow.scale.copy_(train.std(0).clamp(min=1e-4))  # a code that never varies still gets a finite density
    _fit(flow, lambda f, z: -f.log_prob(z), train, valid, epochs, seed)
    return flow


def _fit(module: torch.nn.Module, nll, train: torch.Tensor, valid: torch.Tensor, epochs: int, seed: int, lr: float = 1e-3) -> None:
    """Adam on the mean of ``nll(module, batch)`` over shuffled batches of 256; the weights of the
    epoch with the best validation score are kept (in place)."""
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    best, best_state = math.inf, None
    for _ in range(epochs):
        for index in torch.randperm(len(train), generator=generator).split(256):
            loss = nll(module, train[index]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            score = float(torch.cat([nll(module, v) for v in valid.split(4096)]).double().mean())
        if score < best:
            best, best_state = score, {k: v.clone() for k, v in module.state_dict().items()}
    module.load_state_dict(best_state)


def fit_code_transformer(train: torch.Tensor, valid: torch.Tensor, codebook_size: int, epochs: int, seed: int) -> CodeTransformer:
    """The autoregressive code prior, fitted to code sequences (N, M) by maximum likelihood."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        prior = CodeTransformer(codebook_size, train.shape[1])
    _fit(prior, lambda m, c: -m.log_prob(c), train, valid, epochs, seed, lr=3e-4)
    return prior


def _fit_codes(model: LatentModel, train: InMemoryDataset, valid: InMemoryDataset, epochs: int, seed: int) -> FittedSampler:
    codes, held_out = encode_split(model, train).codes.cpu(), encode_split(model, valid).codes.cpu()  # (N, M) each
    prior = fit_code_transformer(codes, held_out, model.codebook_size, epochs, seed)
    with torch.no_grad():
        scores = [float(torch.cat([prior.log_prob(c) for c in x.split(4096)]).double().mean()) for x in (codes, held_out)]
    options = {"codebook_size": model.codebook_size, "slots": codes.shape[1], "epochs": epochs, "seed": seed}
    return FittedSampler("autoregressive", prior, dict(prior.state_dict()), options, *scores)


def fit_sampler(
    model: LatentModel,
    train: InMemoryDataset,
    valid: InMemoryDataset,
    kind: str,
    components: int = 10,
    epochs: int = 50,
    seed: int = 0,
) -> FittedSampler:
    """Fit a ``gmm`` (``components`` Gaussians) or a ``flow`` (``epochs`` of MAF training) to the
    posterior means of ``train``; ``valid``'s codes measure the fit (and pick the flow's epoch)."""
    if kind not in SAMPLERS:
        raise ConfigError(f"unknown sampler '{kind}'; choose one of: {', '.join(SAMPLERS)}")
    at_least("components", components, 1)
    at_least("epochs", epochs, 1)
    if (kind == "autoregressive") != bool(model.codebook_size):
        if model.codebook_size:
            raise ConfigError(f"a VQ-VAE's codes are discrete: fit --sampler autoregressive, not {kind}")
        raise ConfigError("--sampler autoregressive models a VQ-VAE's discrete codes; for continuous latents fit gmm or flow")
    if kind == "autoregressive":
        return _fit_codes(model, train, valid, epochs, seed)
    codes, held_out = posterior_means(model, train).cpu().float(), posterior_means(model, valid).cpu().float()  # (N, D) each
    if len(codes) < max(components, 2) * 2:
        raise ConfigError(f"{len(codes)} training codes are too few to fit a {kind} sampler ({components} components); use more data")
    if kind == "gmm":
        tensors = fit_gmm(codes, components, seed)
        prior = FullGaussianMixture(tensors["means"], tensors["scale_tril"], tensors["log_weights"], 1)
        options = {"components": components, "seed": seed}
    else:
        flow = fit_flow(codes, held_out, epochs, seed)
        tensors = dict(flow.state_dict())
        prior, options = flow.as_prior(), {"layers": len(flow.layers), "hidden": 128, "epochs": epochs, "seed": seed}
    return FittedSampler(kind, prior, tensors, options, _mean_log_density(prior, codes), _mean_log_density(prior, held_out))
