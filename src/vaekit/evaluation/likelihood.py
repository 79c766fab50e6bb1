"""Honest likelihoods: ELBO terms and the importance-weighted log p(x), in nats and bits/dim."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Protocol

import torch

from vaekit.data import InMemoryDataset
from vaekit.distributions import DiagonalGaussian, PointMass, Posterior, unchecked
from vaekit.errors import ConfigError
from vaekit.evaluation.latent import active_units, kl_per_dimension, mutual_information, perplexity
from vaekit.evaluation.reconstruction import auroc, psnr, ssim
from vaekit.models import LatentModel
from vaekit.objectives import has_closed_form, iwae_bound, iwae_log_weights, reconstruction_nll
from vaekit.runtime import distributed, memory
from vaekit.runtime.checks import at_least

MI_SEED = 0  # the mutual-information estimate draws its own samples on the CPU, repeatably


@dataclass(frozen=True)
class Report:
    """Mean per-example metrics on one split (nats unless named otherwise).

    ``elbo``, ``kl``, ``iwae_log_px``, ``nll``, ``bits_per_dim``, ``active_units``,
    ``mutual_information`` and ``kl_per_dimension`` are None for models without a prior
    (autoencoders): they have no likelihood of x, only reconstructions. With a flow posterior or
    a learned prior (VampPrior) the KL is a Monte-Carlo estimate over the same K samples, and
    ``kl_per_dimension`` is None (it needs a posterior and prior that factorise over dimensions);
    ``mutual_information`` needs a Gaussian posterior (None with a flow: its density is known
    only at its own samples). A hierarchical VAE also has ``kl_per_layer`` and
    ``active_units_per_layer`` (bottom layer first), so a collapsed layer is visible.
    ``codebook_perplexity`` (VQ-VAE only) is exp(entropy) of the code usage: K when every code is
    used equally. ``ood_auroc`` is set when another dataset was given as outliers.
    ``frechet_distance``, ``precision``, ``recall`` and ``fid_classifier_accuracy`` are set by
    ``--fid`` (see ``evaluation.fidelity``), the disentanglement scores by ``--disentanglement``
    (see ``evaluation.disentanglement``), the edit scores by ``--edits`` (see ``evaluation.edits``:
    the ``edit_*`` means are over the attributes at strength 2, ``edits`` has each attribute's at
    strengths 1 and 2; ``edit_vectors`` says whether they were mean differences or conditional
    vectors). ``trained_on`` says what the model's loss was when it was not the
    likelihood (``--reconstruction ms-ssim``): then the ELBO and log p(x) above are the model's
    true numbers, but not the objective it was trained on.
    """

    split: str
    n: int
    iw_samples: int
    elbo: float | None
    reconstruction_nll: float
    kl: float | None
    iwae_log_px: float | None
    nll: float | None
    bits_per_dim: float | None
    active_units: int | None
    mse: float
    codebook_perplexity: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    mutual_information: float | None = None
    kl_per_dimension: list[float] | None = None
    kl_per_layer: list[float] | None = None
    active_units_per_layer: list[int] | None = None
    ood_auroc: float | None = None
    frechet_distance: float | None = None
    precision: float | None = None
    recall: float | None = None
    fid_classifier_accuracy: float | None = None
    mig: float | None = None
    dci_disentanglement: float | None = None
    dci_completeness: float | None = None
    dci_informativeness: float | None = None
    sap: float | None = None
    factor_vae_score: float | None = None
    beta_vae_score: float | None = None
    edit_success: float | None = None
    edit_preservation: float | None = None
    edit_distance: float | None = None
    edit_judge_accuracy: float | None = None
    edits: dict[str, dict[str, float]] | None = None
    edit_vectors: str | None = None
    trained_on: str | None = None

    def as_dict(self) -> dict[str, float | int | str | list[float] | None]:
        return asdict(self)


# What each metric is measured in, for tables (evaluate, the report); a metric not named is a count or a score.
UNITS = {
    "elbo": "nats",
    "reconstruction_nll": "nats",
    "kl": "nats",
    "iwae_log_px": "nats",
    "nll": "nats",
    "bits_per_dim": "bits/dim",
    "mse": "per value",
    "psnr": "dB",
    "mutual_information": "nats",
    "kl_per_dimension": "nats",
    "kl_per_layer": "nats",
    "codebook_perplexity": "codes",
    "active_units": "of the latent dimensions",
}


@torch.no_grad()
def _autoencoder_terms(model: LatentModel, x: torch.Tensor, y: torch.Tensor | None, code_counts: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-example reconstruction terms, (B,) each, from the code itself."""
    output = model(x, None, y)  # eval mode: the code itself, no corruption
    if output.quantized is not None:  # VQ-VAE: count how often each code is used
        code_counts += torch.bincount(output.quantized.codes.flatten().cpu(), minlength=code_counts.numel())
    rec = reconstruction_nll(unchecked(output.likelihood), x)  # (B,); the split was checked up front
    return {"reconstruction_nll": rec, "score": rec, **_image_terms(output.likelihood.mean, x)}


def _image_terms(x_hat: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    terms = {"mse": ((x_hat - x) ** 2).flatten(1).mean(1)}  # (B,)
    if x.dim() == 4:  # images: PSNR and SSIM too
        terms |= {"psnr": psnr(x_hat, x), "ssim": ssim(x_hat, x)}
    return terms


@torch.no_grad()
def _vae_terms(
    model: LatentModel, x: torch.Tensor, y: torch.Tensor | None, k: int, generator: torch.Generator | None, max_rows: int
) -> tuple[dict[str, torch.Tensor], Posterior]:
    """Per-example ELBO terms and the K-sample bound, (B,) each, and the posterior."""
    posterior = model.encode(x, y)  # (B, D)
    if isinstance(posterior, PointMass):
        raise ConfigError(f"{type(model).__name__} has a deterministic encoder: it has no likelihood bound to evaluate")
    prior = model.prior(x.shape[0], like=x)  # (B, D)
    log_w, log_pxz = iwae_log_weights(x, posterior, prior, lambda z: unchecked(model.decode(z, y)), k, generator, max_rows)  # (K, B)
    rec = -log_pxz.mean(0)  # (B,)  Monte-Carlo over the same K samples
    # The closed-form KL where it exists; else log q - log p averaged over the same K samples
    # (then elbo = mean_k log w_k, and iwae_log_px >= elbo still holds per example).
    kl = posterior.kl(prior) if has_closed_form(posterior, prior) else (log_pxz - log_w).mean(0)  # (B,)
    elbo = -rec - kl
    terms = {"reconstruction_nll": rec, "kl": kl, "elbo": elbo, "iwae_log_px": iwae_bound(log_w), "score": -elbo}
    if getattr(model, "layer_dims", None):  # a hierarchy: each layer's KL, from one top-down pass
        kl_layers = model(x, generator, y).kl_layers  # (B, L) or (K, B, L)
        kl_layers = kl_layers.mean(0) if kl_layers.dim() == 3 else kl_layers
        terms |= {f"kl_layer_{i}": kl_layers[:, i] for i in range(kl_layers.shape[-1])}
    return terms | _image_terms(model.decode(posterior.mode(), y).mean, x), posterior


def _latents(posterior: Posterior) -> dict[str, torch.Tensor]:
    """What the posterior health metrics read of a batch: its means, and log variances when Gaussian."""
    if isinstance(posterior, DiagonalGaussian):
        return {"mean": posterior.mu.cpu(), "logvar": posterior.logvar.cpu()}  # (B, D) each
    return {"mean": posterior.mode().cpu()}  # (B, D)


@dataclass(frozen=True)
class Progress:
    """How far one pass of ``evaluate`` over a split got, enough to finish it later with exactly
    the numbers an uninterrupted pass gives.

    Attributes:
        done: examples finished (the pass goes on at this row).
        terms: each per-example term of those examples, (done,) each.
        latents: their posterior means (and log variances), (done, D) each.
        generator_state: the generator's state before example ``done`` (None without a generator).
        code_counts: a VQ-VAE's code usage so far, (codes,).
    """

    done: int
    terms: dict[str, torch.Tensor]
    latents: dict[str, torch.Tensor]
    generator_state: torch.Tensor | None
    code_counts: torch.Tensor


class Journal(Protocol):
    """Where a long evaluation keeps its progress (``vaekit evaluate`` keeps it in the run directory),
    so that an interrupted one goes on where it stopped."""

    def restore(self, part: str, n: int) -> Progress | None:
        """What an earlier, interrupted pass ``part`` over the same ``n`` examples kept, or None."""

    def due(self) -> bool:
        """Whether progress should be kept now (it is asked after each batch)."""

    def keep(self, part: str, n: int, progress: Progress, *, interrupted: bool = False) -> None:
        """Keep ``progress`` of pass ``part`` (``interrupted``: the pass stops here)."""


def _per_example(
    model: LatentModel,
    data: InMemoryDataset,
    iw_samples: int,
    generator: torch.Generator | None,
    batch_size: int,
    max_rows: int,
    code_counts: torch.Tensor,
    journal: Journal | None = None,
    part: str = "data",
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Every per-example term over the whole split (on the CPU), and the posteriors' means (and
    log variances, for Gaussian posteriors), (N, D) each.

    Under torchrun each rank takes every world-size-th batch and the results are summed into
    full-size tables on every rank (each row is written by exactly one rank). With a ``journal``
    (one process only), the pass starts where a kept one stopped and keeps its progress as it goes.
    """
    world = distributed.current()
    if world.active:
        if len(data) < world.size:
            raise ConfigError(f"{len(data)} examples cannot be spread over {world.size} processes; evaluate with fewer (or one)")
        batch_size = min(batch_size, len(data) // world.size)  # at least world-size batches: one for every rank
        journal = None  # each rank draws its own stream: a kept pass could not be split again the same way
    parts: dict[str, list[torch.Tensor]] = {}
    latents: dict[str, list[torch.Tensor]] = {}
    done = 0
    kept = journal.restore(part, len(data)) if journal is not None else None
    if kept is not None:
        done, parts, latents = kept.done, {k: [v] for k, v in kept.terms.items()}, {k: [v] for k, v in kept.latents.items()}
        code_counts.copy_(kept.code_counts)
        if generator is not None and kept.generator_state is not None:
            generator.set_state(kept.generator_state)
    starts = list(range(0, len(data), batch_size))  # done is 0 or, kept, a multiple of batch_size
    tracked = journal is not None and generator is not None
    state = generator.get_state() if tracked else None  # the generator's state after the first `done` examples
    try:
        for start in [s for s in starts[world.rank :: world.size] if s >= done]:
            index = slice(start, start + batch_size)
            x = data.batch(index, generator)  # (B, C, H, W)
            y = data.condition(index, model.conditioning, model.condition_dim)  # (B, Y) or None
            if model.has_prior and not model.deterministic:
                terms, posterior = _vae_terms(model, x, y, iw_samples, generator, max_rows)
                for key, value in _latents(posterior).items():
                    latents.setdefault(key, []).append(value)
            else:
                terms = _autoencoder_terms(model, x, y, code_counts)
            for key, value in terms.items():
                parts.setdefault(key, []).append(value.cpu())
            done, state = min(start + batch_size, len(data)), generator.get_state() if tracked else None
            if journal is not None and (done == len(data) or journal.due()):
                journal.keep(part, len(data), _progress(done, parts, latents, state, code_counts))
    except KeyboardInterrupt:
        if journal is not None and done > 0:  # the batches finished before Ctrl-C, and the state the next one starts from
            journal.keep(part, len(data), _progress(done, parts, latents, state, code_counts), interrupted=True)
        raise
    if not world.active:
        return {k: torch.cat(v) for k, v in parts.items()}, {k: torch.cat(v) for k, v in latents.items()}
    distributed.all_reduce(code_counts)
    mine = [slice(s, min(s + batch_size, len(data))) for s in starts[world.rank :: world.size]]
    full = {k: _assemble(v, mine, len(data)) for k, v in sorted(parts.items())}
    return full, {k: _assemble(v, mine, len(data)) for k, v in sorted(latents.items())}


def _progress(
    done: int,
    parts: dict[str, list[torch.Tensor]],
    latents: dict[str, list[torch.Tensor]],
    state: torch.Tensor | None,
    counts: torch.Tensor,
) -> Progress:
    """The first ``done`` examples' results as one ``Progress`` (a batch cut off by Ctrl-C may have
    left some of its terms in ``parts``: they are dropped)."""
    first = {k: torch.cat(v)[:done] for k, v in parts.items()}
    return Progress(done, first, {k: torch.cat(v)[:done] for k, v in latents.items()}, state, counts.clone())


def _assemble(pieces: list[torch.Tensor], rows: list[slice], n: int) -> torch.Tensor:
    """This rank's per-batch results placed at their rows of an (n, ...) table, summed over ranks."""
    table = torch.zeros(n, *pieces[0].shape[1:], dtype=pieces[0].dtype)
    for piece, where in zip(pieces, rows, strict=True):
        table[where] = piece
    return distributed.all_reduce(table)


def _check_arguments(
    model: LatentModel,
    data: InMemoryDataset,
    iw_samples: int,
    batch_size: int,
    max_rows: int,
    outliers: InMemoryDataset | None,
    mi_examples: int,
) -> None:
    """Every argument of ``evaluate``, before any work."""
    for name, value in (("iw_samples", iw_samples), ("batch_size", batch_size), ("max_rows", max_rows), ("mi_examples", mi_examples)):
        at_least(name, value, 1)
    if not isinstance(data, InMemoryDataset) or len(data) == 0:
        raise ConfigError("evaluate needs a non-empty InMemoryDataset (the split to evaluate)")
    if tuple(data.shape) != tuple(model.data_shape):
        raise ConfigError(f"the data have examples of shape {tuple(data.shape)}, but the model's are {tuple(model.data_shape)}")
    if outliers is not None and tuple(outliers.shape) != tuple(data.shape):
        raise ConfigError(f"--ood-data has examples of shape {tuple(outliers.shape)}, but the model's are {tuple(data.shape)}")
    rows = min(batch_size, len(data))
    memory.require(
        2 * iw_samples * rows * 4, f"the importance weights of K = {iw_samples:,} samples for {rows} examples", "use a smaller --iw-samples"
    )


@torch.no_grad()
def check_support(model: LatentModel, data: InMemoryDataset) -> None:
    """A DataError when any example of ``data`` lies outside the model's likelihood support."""
    if len(data) == 0:
        return
    x = data.batch(slice(0, 1))
    likelihood = model.decode(
        torch.zeros(1, model.latent_dim, device=x.device), data.condition(slice(0, 1), model.conditioning, model.condition_dim)
    )
    for values in data.value_chunks():
        likelihood.check_support(values)


def evaluate(
    model: LatentModel,
    data: InMemoryDataset,
    split: str = "test",
    iw_samples: int = 1000,
    generator: torch.Generator | None = None,
    batch_size: int = 100,
    max_rows: int = 4096,
    outliers: InMemoryDataset | None = None,
    mi_examples: int = 5000,
    journal: Journal | None = None,
) -> Report:
    """ELBO, reconstruction, KL, the K-sample importance-weighted log p(x), bits/dim, posterior health
    (active units, KL per dimension, mutual information), PSNR/SSIM, and optionally OOD AUROC.

    The ELBO's reconstruction term is averaged over the same K posterior samples as the IWAE
    bound, so ``iwae_log_px >= elbo`` holds per example up to float error, and both grow
    tighter with K (Burda et al. 2016, Theorem 1). For a conditional model these are log p(x | y).
    ``bits_per_dim = nll / (D ln 2)``: for binary data a code length; for continuous likelihoods a
    density on the [0, 1] scale.

    Args:
        model: a trained model (put in eval mode here).
        data: the split to evaluate, on the model's device.
        split: its name, for the report.
        iw_samples: K, importance samples per example.
        generator: randomness for the posterior samples (pass a seeded one to repeat results).
        batch_size: examples per batch; the decoder sees at most ``max_rows`` latents at once.
        outliers: another dataset's examples; ``ood_auroc`` is the AUROC of the per-example -ELBO
            (the reconstruction NLL for autoencoders) at telling them from ``data``.
        mi_examples: examples used for the mutual-information estimate (its cost grows as N^2).
        journal: keeps the per-example results as they come, and gives back what an interrupted
            evaluation with the same model, data and arguments kept: it goes on from there, and the
            report is the one an uninterrupted run gives (one process only; not under torchrun).
    """
    _check_arguments(model, data, iw_samples, batch_size, max_rows, outliers, mi_examples)
    model.eval()
    for examples in (data, outliers) if outliers is not None else (data,):
        check_support(model, examples)
    n, dims = len(data), math.prod(data.shape)
    code_counts = torch.zeros(max(model.codebook_size, 1))  # (K,)
    terms, posteriors = _per_example(model, data, iw_samples, generator, batch_size, max_rows, code_counts, journal, "data")
    mean = {k: float(v.double().mean()) for k, v in terms.items()}
    ood = None
    if outliers is not None:
        counts = code_counts.clone()
        scores = _per_example(model, outliers, iw_samples, generator, batch_size, max_rows, counts, journal, "outliers")[0]["score"]
        ood = auroc(terms["score"], scores)
    images = {"psnr": mean.get("psnr"), "ssim": mean.get("ssim"), "ood_auroc": ood}
    if not model.has_prior or model.deterministic:  # autoencoders (a WAE samples, but has no likelihood bound)
        codes = perplexity(code_counts) if model.codebook_size else None
        return Report(split, n, 0, None, mean["reconstruction_nll"], None, None, None, None, None, mean["mse"], codes, **images)
    mu, logvar = posteriors["mean"], posteriors.get("logvar")  # (N, D) each
    standard = logvar is not None and isinstance(model.prior(1, like=mu), DiagonalGaussian)  # the KL splits over dimensions
    info = None
    if logvar is not None:
        info = mutual_information(mu[:mi_examples].double(), logvar[:mi_examples].double(), torch.Generator().manual_seed(MI_SEED))
    nll = -mean["iwae_log_px"]
    layers = getattr(model, "layer_dims", None)
    per_layer = {}
    if layers:  # a hierarchy: collapse of a layer shows as its KL and active units near 0
        bounds = torch.tensor((0, *layers)).cumsum(0).tolist()
        per_layer = {
            "kl_per_layer": [round(mean[f"kl_layer_{i}"], 4) for i in range(len(layers))],
            "active_units_per_layer": [active_units(mu[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
        }
    return Report(
        split=split,
        n=n,
        iw_samples=iw_samples,
        elbo=mean["elbo"],
        reconstruction_nll=mean["reconstruction_nll"],
        kl=mean["kl"],
        iwae_log_px=mean["iwae_log_px"],
        nll=nll,
        bits_per_dim=nll / (dims * math.log(2)),
        active_units=active_units(mu),
        mse=mean["mse"],
        mutual_information=info,
        kl_per_dimension=[round(v, 4) for v in kl_per_dimension(mu, logvar).tolist()] if standard else None,
        **per_layer,
        **images,
    )
