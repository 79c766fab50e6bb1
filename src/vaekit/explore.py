"""Library functions behind the latent-space commands (interpolate, traverse, attribute, encode,
decode): load a run, pick inputs, call ``generation``, write through ``generation.io``."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vaekit import rundir
from vaekit.data import InMemoryDataset, load_dataset
from vaekit.data.folder import image_as_example
from vaekit.errors import ConfigError, DataError
from vaekit.experiment import load_run_data, read_run_config
from vaekit.generation import (
    apply_attribute,
    attribute_vector,
    embed_2d,
    grid,
    latent_map_figure,
    manifold,
    save_figure,
    interpolate,
    kl_order,
    posterior_means,
    save_arrays,
    save_grid,
    save_npy,
    select,
    traverse,
)
from vaekit.models import LatentModel


def require_unconditional(model: LatentModel) -> LatentModel:
    """The model itself; the latent tools do not take a conditional model's conditions yet."""
    if model.conditioning is not None:
        raise ConfigError("the latent tools do not take conditions yet; use a run of an unconditional model (not cvae)")
    return model


def _model(run_dir: Path, weights: str) -> LatentModel:
    return require_unconditional(rundir.load(run_dir, weights=weights))


def _example(run_dir: Path, model: LatentModel, split: InMemoryDataset, index: int | None, file: Path | None, name: str) -> torch.Tensor:
    """One input (1, C, H, W): example ``index`` of the split, or an image file."""
    if (index is None) == (file is None):
        raise ConfigError(f"give exactly one of --{name} IDX (a dataset index) or --{name}-file IMAGE")
    if file is not None:
        shape = rundir.model_config(run_dir).input_shape
        return torch.from_numpy(image_as_example(Path(file), shape)).float()[None] / 255.0
    if not 0 <= index < len(split):
        raise ConfigError(f"--{name} {index} is out of range: the split has {len(split)} examples (0..{len(split) - 1})")
    return split.batch(slice(index, index + 1))


def _ints(text: str, name: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--{name} takes comma-separated integers, like 0,3,5; got '{text}'") from None


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--{name} takes comma-separated numbers, like -2,-1,0,1,2; got '{text}'") from None


def interpolate_run(run_dir: Path, out: Path, a: int | None = None, b: int | None = None, a_file: Path | None = None,
                    b_file: Path | None = None, steps: int = 9, method: str = "lerp", extrapolate: float = 0.0,
                    split: str = "test", data_dir: Path | None = None, weights: str = "best") -> Path:
    """``vaekit interpolate``: a strip of decoded points from a to b, extended by ``extrapolate``."""
    if steps < 2 or extrapolate < 0:
        raise ConfigError(f"--steps must be at least 2 and --extrapolate 0 or more, got {steps} and {extrapolate}")
    model = _model(run_dir, weights)
    data = load_run_data(run_dir, split, data_dir) if a_file is None or b_file is None else None
    xa, xb = _example(run_dir, model, data, a, a_file, "a"), _example(run_dir, model, data, b, b_file, "b")
    images = interpolate(model, xa, xb, steps, method, extrapolate)
    return save_grid(images, out, nrow=images.shape[0])


def traverse_run(run_dir: Path, out: Path, dims: str | None = None, span: float = 3.0, steps: int = 9, input_index: int | None = None,
                 split: str = "test", data_dir: Path | None = None, weights: str = "best", max_rows: int = 10,
                 input_file: Path | None = None) -> Path:
    """``vaekit traverse``: one row per latent dimension (default: the ``max_rows`` with most KL)."""
    model = _model(run_dir, weights)
    needs_data = not dims or input_index is not None
    data = load_run_data(run_dir, split, data_dir) if needs_data else None
    order = _ints(dims, "dims") if dims else kl_order(model, data)[:max_rows]
    bad = [d for d in order if not 0 <= d < model.latent_dim]
    if bad:
        raise ConfigError(f"--dims {bad} out of range: the latent has {model.latent_dim} dimensions (0..{model.latent_dim - 1})")
    x = None if input_index is None and input_file is None else _example(run_dir, model, data, input_index, input_file, "input")
    return save_grid(traverse(model, order, span, steps, x), out, nrow=steps)


def attribute_run(run_dir: Path, out: Path, attribute: str, against: str | None = None, strength: str = "-2,-1,0,1,2",
                  inputs: str = "0,1,2", save_vector: Path | None = None, data_dir: Path | None = None, weights: str = "best",
                  input_files: str | None = None) -> Path:
    """``vaekit attribute``: the attribute vector (from the training split) added to test inputs."""
    model = _model(run_dir, weights)
    config = read_run_config(run_dir).data
    splits = load_dataset(replace(config, limit=None, data_dir=data_dir or config.data_dir))
    means = posterior_means(model, splits.train)  # (N, D)
    vector = attribute_vector(means, select(splits, splits.train, attribute), None if against is None else select(splits, splits.train, against))
    if save_vector is not None:
        save_npy(save_vector, vector.cpu().numpy())
    if input_files:
        x = torch.cat([_example(run_dir, model, splits.test, None, Path(f.strip()), "input") for f in input_files.split(",")])
    else:
        index = _ints(inputs, "inputs")
        if any(not 0 <= i < len(splits.test) for i in index):
            raise ConfigError(f"--inputs {index}: the test split has {len(splits.test)} examples")
        x = splits.test.batch(torch.tensor(index))  # (B, C, H, W)
    strengths = _floats(strength, "strength")
    return save_grid(apply_attribute(model, x, vector, strengths), out, nrow=len(strengths))


def _bits_per_value(data: InMemoryDataset) -> float:
    """Storage of one input value: 1 bit (binary), 8 bits (8-bit levels) or 32 bits (floats)."""
    if data.x.dtype == torch.uint8:
        return 1.0 if data.scale == 1.0 else 8.0
    return 32.0


def encode_run(run_dir: Path, out: Path, data: str | None = None, split: str = "test", data_dir: Path | None = None,
               limit: int | None = None, weights: str = "best") -> tuple[Path, float]:
    """``vaekit encode``: posterior means (and log-variances, or VQ codes) of a split as .npz.

    Returns the file and the compression ratio: bits of an input over bits of its code (float32
    means, or log2 K bits per VQ slot).
    """
    model = rundir.load(run_dir, weights=weights)
    examples = load_run_data(run_dir, split, data_dir, limit, name=data)
    if tuple(examples.shape) != tuple(rundir.model_config(run_dir).input_shape):
        raise DataError(f"the data have shape {tuple(examples.shape)} but the model takes {tuple(rundir.model_config(run_dir).input_shape)}")
    with torch.no_grad():
        parts = [model(examples.batch(slice(s, s + 1000)), None, examples.condition(slice(s, s + 1000), model.conditioning, model.condition_dim))
                 for s in range(0, len(examples), 1000)]
    arrays = {"mu": torch.cat([p.posterior.mode() for p in parts]).numpy()}
    if hasattr(parts[0].posterior, "logvar"):
        arrays["logvar"] = torch.cat([p.posterior.logvar for p in parts]).numpy()
    if parts[0].quantized is not None:
        arrays["codes"] = torch.cat([p.quantized.codes for p in parts]).numpy()
    if examples.labels is not None:
        arrays["labels"] = examples.labels.numpy()
    input_bits = math.prod(examples.shape) * _bits_per_value(examples)
    code_bits = model.slots * math.log2(model.codebook_size) if model.codebook_size else 32.0 * model.latent_dim
    return save_arrays(out, **arrays), input_bits / code_bits


def decode_run(run_dir: Path, latents: Path, out: Path, weights: str = "best") -> Path:
    """``vaekit decode``: the means of p(x|z) for the ``mu`` rows of a latents .npz, as PNG or .npz."""
    model = _model(run_dir, weights)
    try:
        with np.load(latents, allow_pickle=False) as content:
            mu = content["mu"] if "mu" in content.files else None
    except (OSError, ValueError) as e:
        raise DataError(f"{latents}: cannot read ({type(e).__name__}); give an .npz written by vaekit encode") from None
    if mu is None or mu.ndim != 2 or mu.shape[1] != model.latent_dim:
        found = "no array 'mu'" if mu is None else f"'mu' of shape {mu.shape}"
        raise DataError(f"{latents}: {found}; expected 'mu' of shape (N, {model.latent_dim}) as vaekit encode writes")
    with torch.no_grad():
        images = model.decode(torch.from_numpy(mu).float()).mean  # (N, C, H, W)
    if Path(out).suffix.lower() == ".npz":
        return save_arrays(out, images=images.numpy())
    return save_grid(images, out)


def latent_map_run(run_dir: Path, out: Path, method: str = "pca", split: str = "test", limit: int | None = 2000,
                   data_dir: Path | None = None, weights: str = "best") -> Path:
    """``vaekit latent-map``: posterior means of a split in 2-D coloured by label (and, for a
    2-D latent, the decoded manifold beside them)."""
    model = _model(run_dir, weights)
    data = load_run_data(run_dir, split, data_dir, limit)
    means = posterior_means(model, data).cpu()  # (N, D)
    points = embed_2d(means, method)
    title = f"{split} posterior means" + ("" if means.shape[1] == 2 else f", {method.upper()} of {means.shape[1]} dimensions")
    grid_image = None
    if means.shape[1] == 2 and len(data.shape) == 3:
        grid_image = grid(manifold(model), nrow=15, pad=0)
    labels = None if data.labels is None else data.labels.cpu()
    return save_figure(latent_map_figure(points, labels, title, grid_image), out)
