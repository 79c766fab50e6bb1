"""``vaekit sample`` and ``vaekit reconstruct``: PNG grids of new data and of reconstructions."""

from __future__ import annotations

import io
import math
import shutil
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import tyro

from vaekit import run
from vaekit.data import DataConfig, InMemoryDataset
from vaekit.errors import ConfigError
from vaekit.generation import (
    check_output,
    condition_noun,
    fit_code_prior,
    fit_sampler,
    interleave_rows,
    label_condition,
    posterior_means,
    recondition,
    reconstruct,
    sample,
    sample_conditions,
    save_grid,
)
from vaekit.models import LatentModel, ModelConfig
from vaekit.runtime.checks import at_least, in_range, integer
from vaekit.runtime.files import atomic_write_bytes
from vaekit.training import TrainConfig

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
    sampler: Literal["prior", "gmm", "flow", "two-stage", "autoregressive"] = "prior",
    top_k: int | None = None,
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
            (gmm, flow, two-stage; the way autoencoders generate; autoregressive for a VQ-VAE's codes).
        top_k: --sampler autoregressive: draw each slot from its k most likely codes.
    """
    check_output(out, ".png")
    at_least("n", n, 1)
    in_range("temperature", temperature, 0)
    integer("seed", seed)
    model = run.load(run_dir, weights=weights)
    generator = torch.Generator().manual_seed(seed)
    if top_k is not None and (at_least("top_k", top_k, 1) and sampler != "autoregressive"):
        raise ConfigError("--top-k applies to --sampler autoregressive (a VQ-VAE's code prior)")
    if sampler == "autoregressive":
        code_prior = run.load_sampler(run_dir, sampler, model.latent_dim)
        return save_grid(sample(model, n, generator, temperature, code_prior=code_prior, top_k=top_k), out)
    if model.codebook_size and sampler == "prior":  # VQ-VAE: draw codes from a prior fitted to the training codes
        code_prior = fit_code_prior(model, run.load_split(run_dir, "train", data_dir))
        return save_grid(sample(model, n, generator, temperature, code_prior=code_prior), out)
    fitted = run.load_sampler(run_dir, sampler, model.latent_dim) if sampler != "prior" else None
    examples = run.load_split(run_dir, "test", data_dir, n) if model.conditioning == "attributes" else None
    condition = sample_conditions(model, n, label, examples)
    return save_grid(sample(model, n, generator, temperature, condition, sampler=fitted), out)


def reconstruct_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    n: int = 32,
    split: Split = "test",
    data_dir: Path | None = None,
    weights: Weights = "best",
    label: str | None = None,
    set_attributes: Annotated[str | None, tyro.conf.arg(name="set")] = None,
) -> Path:
    """Write a PNG of test examples (rows of originals above rows of reconstructions).

    A cvae also answers what-ifs: each example encoded with its own condition and decoded with
    another, so its code keeps what the condition does not say. --label 3 adds a row of each example
    as a 3; --label all gives one row per example, the original then every class (Kingma et al. 2014's
    analogies); --set smiling=1 adds a row with those attributes changed (attribute-conditioned runs).

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: PNG file to write.
        n: Number of examples.
        split: Split the examples come from.
        data_dir: Look for the run's dataset here first.
        weights: best or last.
        label: cvae: also decode every example as this class, or 'all' for every class.
        set_attributes: cvae on attributes: also decode every example with these attributes set, e.g. smiling=1,glasses=0.
    """
    check_output(out, ".png")
    at_least("n", n, 1)
    if label is not None and set_attributes is not None:
        raise ConfigError("give --label (label-conditioned runs) or --set (attribute-conditioned runs), not both")
    model = run.load(run_dir, weights=weights)
    splits = run.load_splits(run_dir, data_dir)
    data = splits.split(split).head(n)
    x = data.batch(slice(0, n))  # (n, C, H, W)
    y = data.condition(slice(0, n), model.conditioning, model.condition_dim)
    if label is not None and label.strip().lower() == "all":
        label_condition(model, 0)  # checks that the run is label-conditioned
        targets = [label_condition(model, c, len(x)) for c in range(model.condition_dim)]
        as_each = recondition(model, x, y, targets).unflatten(0, (len(x), len(targets)))  # (n, classes, C, H, W)
        return save_grid(torch.cat([x[:, None], as_each], 1).flatten(0, 1), out, nrow=len(targets) + 1)
    rows = [reconstruct(model, x, y)]
    if label is not None:
        try:
            number = int(label)
        except ValueError:
            raise ConfigError(f"--label takes a class number or 'all', got '{label}'") from None
        rows.append(recondition(model, x, y, [label_condition(model, number, len(x))]))
    elif set_attributes is not None:
        rows.append(recondition(model, x, y, [_set_attributes(model, splits.attribute_names, y, set_attributes)]))
    return save_grid(interleave_rows(x, *rows, nrow=8), out, nrow=8)


def _set_attributes(model: LatentModel, names: tuple[str, ...] | None, conditions: torch.Tensor, spec: str) -> torch.Tensor:
    """The examples' attribute conditions (B, A) with ``--set name=value,...`` applied."""
    if model.conditioning != "attributes":
        kind = "an unconditional model" if model.conditioning is None else f"conditioned on {condition_noun(model)}"
        raise ConfigError(
            f"--set needs a run of a model conditioned on attributes (--model cvae --condition attributes); this one is {kind}"
        )
    known = {name.lower(): i for i, name in enumerate(names or ())}
    target = conditions.clone()
    for part in [p.strip() for p in spec.split(",") if p.strip()] or [spec]:
        name, sep, value = part.partition("=")
        if not sep or name.strip().lower() not in known:
            raise ConfigError(f"--set {spec}: give name=value pairs of the run's attributes ({', '.join(names or ())}), like smiling=1")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"--set {part}: the value must be a number, like {name.strip()}=1") from None
        if not math.isfinite(number):
            raise ConfigError(f"--set {part}: the value must be finite")
        target[:, known[name.strip().lower()]] = number
    return target


def fit_sampler_run(
    run_dir: tyro.conf.Positional[Path],
    sampler: Literal["gmm", "flow", "two-stage", "autoregressive"] = "gmm",
    components: int = 10,
    epochs: int = 50,
    seed: int = 0,
    weights: Weights = "best",
    data_dir: Path | None = None,
) -> Path:
    """Fit a density to the training split's codes and save it in the run (`vaekit sample RUN --sampler gmm`).

    Args:
        run_dir: A run directory written by `vaekit train`.
        sampler: gmm (a full-covariance Gaussian mixture, scikit-learn), flow (a masked autoregressive flow) or
            two-stage (a second VAE on the codes, Dai & Wipf 2019); autoregressive for a VQ-VAE (a causal transformer
            over its code slots).
        components: gmm: number of Gaussians.
        epochs: flow, two-stage, autoregressive: training epochs over the codes (flow and autoregressive keep their
            epoch with the best validation log-likelihood).
        seed: Seed of the fit.
        weights: best or last.
        data_dir: Look for the run's dataset here first.
    """
    at_least("components", components, 1)
    at_least("epochs", epochs, 1)
    integer("seed", seed)
    model = run.load(run_dir, weights=weights)
    train, valid = run.load_split(run_dir, "train", data_dir), run.load_split(run_dir, "valid", data_dir)
    if sampler == "two-stage":
        return _fit_two_stage(run_dir, model, train, valid, epochs, seed, weights)
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


def _fit_two_stage(
    run_dir: Path, model: LatentModel, train: InMemoryDataset, valid: InMemoryDataset, epochs: int, seed: int, weights: str
) -> Path:
    """Train the second VAE of Dai & Wipf (2019) on the codes: an MLP of 1024-1024 with a latent of
    the codes' size and a learned output variance, as a run directory of its own inside the run."""
    from vaekit.commands.fit import train as train_run  # commands may train; generation may not
    from vaekit.commands.runconfig import RunConfig

    if model.codebook_size:
        raise ConfigError("a VQ-VAE's codes are discrete: its sampler is the code prior (vaekit sample RUN), not a density")
    codes = {name: posterior_means(model, split).cpu().float().numpy() for name, split in (("train", train), ("valid", valid))}
    nested = run.two_stage_dir(run_dir)
    if nested.exists():
        shutil.rmtree(nested)  # a refit replaces the last one
    nested.parent.mkdir(exist_ok=True)
    arrays = nested.parent / "two-stage-codes.npz"
    buffer = io.BytesIO()
    np.savez(buffer, train=codes["train"], valid=codes["valid"], test=codes["valid"])
    atomic_write_bytes(arrays, buffer.getvalue())
    config = RunConfig(
        data=DataConfig(name=f"npz:{arrays}"),
        model=ModelConfig(kind="vae", hidden=(1024, 1024), latent_dim=model.latent_dim, likelihood="gaussian", learn_variance=True),
        train=TrainConfig(epochs=epochs, batch_size=256, seed=seed, progress=False),
    )
    train_run(config, nested, images=False)
    info = {"options": {"epochs": epochs, "seed": seed, "hidden": [1024, 1024]}, "latent_dim": model.latent_dim, "weights": weights}
    return run.save_sampler(run_dir, "two-stage", {}, {**info, "codes": len(train), "run": str(nested.name)})
