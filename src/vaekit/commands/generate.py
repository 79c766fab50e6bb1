"""``vaekit sample`` and ``vaekit reconstruct``: PNG grids of new data and of reconstructions."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import tyro

from vaekit import run
from vaekit.generation import (
    check_output,
    fit_code_prior,
    fit_sampler,
    interleave_rows,
    reconstruct,
    sample,
    sample_conditions,
    save_grid,
)
from vaekit.runtime.checks import at_least, in_range, integer

Split = Literal["test", "valid", "train"]
Weights = Literal["best", "last"]


def sample_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    n: int = 64,
    temperature: float = 1.0,
    seed: int = 0,
    weights: Weights = "best",
    label: int | None = None,
    data_dir: Path | None = None,
    sampler: Literal["prior", "gmm", "flow"] = "prior",
) -> Path:
    """Decode samples of the prior (or of a sampler fitted to the codes) into a PNG grid.

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: PNG file to write.
        n: Number of samples.
        temperature: Scale of the prior's standard deviation (below 1: more typical samples).
        seed: Seed of the prior samples.
        weights: best or last.
        label: cvae: the class to generate (default: the classes in turn).
        data_dir: Look for the run's dataset here first (VQ-VAEs fit their code prior to it; attribute-conditioned
            models read conditions from it).
        sampler: Draw the codes from the prior, or from a density fitted to the training codes by `vaekit fit-sampler`
            (gmm, flow; the way autoencoders generate).
    """
    check_output(out, ".png")
    at_least("n", n, 1)
    in_range("temperature", temperature, 0)
    integer("seed", seed)
    model = run.load(run_dir, weights=weights)
    generator = torch.Generator().manual_seed(seed)
    if sampler != "prior":
        fitted = run.load_sampler(run_dir, sampler, model.latent_dim)
        return save_grid(sample(model, n, generator, temperature, sampler=fitted), out)
    if model.codebook_size:  # VQ-VAE: draw codes from a prior fitted to the training codes
        code_prior = fit_code_prior(model, run.load_split(run_dir, "train", data_dir))
        return save_grid(sample(model, n, generator, temperature, code_prior=code_prior), out)
    examples = run.load_split(run_dir, "test", data_dir, n) if model.conditioning == "attributes" else None
    condition = sample_conditions(model, n, label, examples)
    return save_grid(sample(model, n, generator, temperature, condition), out)


def reconstruct_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    n: int = 32,
    split: Split = "test",
    data_dir: Path | None = None,
    weights: Weights = "best",
) -> Path:
    """Write a PNG of test examples (rows of originals above rows of reconstructions).

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: PNG file to write.
        n: Number of examples.
        split: Split the examples come from.
        data_dir: Look for the run's dataset here first.
        weights: best or last.
    """
    check_output(out, ".png")
    at_least("n", n, 1)
    model = run.load(run_dir, weights=weights)
    data = run.load_split(run_dir, split, data_dir, n)
    x = data.batch(slice(0, n))  # (n, C, H, W)
    y = data.condition(slice(0, n), model.conditioning, model.condition_dim)
    return save_grid(interleave_rows(x, reconstruct(model, x, y), 8), out, nrow=8)


def fit_sampler_run(
    run_dir: tyro.conf.Positional[Path],
    sampler: Literal["gmm", "flow"] = "gmm",
    components: int = 10,
    epochs: int = 50,
    seed: int = 0,
    weights: Weights = "best",
    data_dir: Path | None = None,
) -> Path:
    """Fit a density to the training split's codes and save it in the run (`vaekit sample RUN --sampler gmm`).

    Args:
        run_dir: A run directory written by `vaekit train`.
        sampler: gmm (a full-covariance Gaussian mixture, scikit-learn) or flow (a masked autoregressive flow).
        components: gmm: number of Gaussians.
        epochs: flow: training epochs over the codes (the epoch with the best validation log-likelihood is kept).
        seed: Seed of the fit.
        weights: best or last.
        data_dir: Look for the run's dataset here first.
    """
    at_least("components", components, 1)
    at_least("epochs", epochs, 1)
    integer("seed", seed)
    model = run.load(run_dir, weights=weights)
    train, valid = run.load_split(run_dir, "train", data_dir), run.load_split(run_dir, "valid", data_dir)
    fitted = fit_sampler(model, train, valid, sampler, components, epochs, seed)
    info = {
        "options": fitted.options,
        "latent_dim": model.latent_dim,
        "weights": weights,
        "codes": len(train),
        "train_log_likelihood": round(fitted.train_log_likelihood, 4),
        "valid_log_likelihood": round(fitted.valid_log_likelihood, 4),
    }
    return run.save_sampler(run_dir, sampler, fitted.tensors, info)
