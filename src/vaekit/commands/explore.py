"""The latent-space commands: interpolate, traverse, attribute, encode, decode, latent-map.

Each loads a run, picks its inputs (dataset indices or image files), calls ``vaekit.generation``
and writes through ``generation.io``. Every option is checked, and the output path too, before
the model is loaded.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import tyro

from vaekit import run
from vaekit.commands.inputs import condition_of, example, floats, ints
from vaekit.data import DatasetSplits, InMemoryDataset, load_dataset
from vaekit.data.npfiles import read_array, read_arrays
from vaekit.errors import ConfigError, DataError
from vaekit.evaluation.disentanglement import normalized_mutual_info
from vaekit.evaluation.edits import linear_readout
from vaekit.evaluation.latent import ACTIVE_THRESHOLD
from vaekit.generation import (
    apply_attribute,
    attribute_vector,
    check_output,
    condition_noun,
    conditional_vector,
    embed_2d,
    encode_split,
    grid,
    interpolate,
    kl_order,
    label_condition,
    latent_map_figure,
    manifold,
    path_times,
    posterior_means,
    save_arrays,
    save_figure,
    save_grid,
    save_npy,
    select,
    traverse,
)
from vaekit.models import LatentModel
from vaekit.runtime import memory
from vaekit.runtime.checks import at_least, in_range

Split = Literal["test", "valid", "train"]
Weights = Literal["best", "last"]


def _model(run_dir: Path, weights: str) -> LatentModel:
    return run.load(run_dir, weights=weights)


def interpolate_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    a: int | None = None,
    b: int | None = None,
    a_file: Path | None = None,
    b_file: Path | None = None,
    steps: int = 9,
    method: Literal["lerp", "slerp"] = "lerp",
    extrapolate: float = 0.0,
    split: Split = "test",
    data_dir: Path | None = None,
    weights: Weights = "best",
    label: int | None = None,
) -> Path:
    """Decode a path from a to b (dataset indices or image files), extended past both ends.

    A cvae encodes each end with its own class (or attributes) and moves the decoder's condition from
    a's to b's along the path, so two classes morph into each other; --label holds one class throughout.

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: PNG file to write (one row).
        a: Index of the start example in --split.
        b: Index of the end example in --split.
        a_file: An image file as the start (resized to the model's input).
        b_file: An image file as the end.
        steps: Points from a to b, both included.
        method: Linear, or spherical (keeps the norm between equal-norm endpoints).
        extrapolate: Continue the path this fraction of its length past both ends.
        split: Split the indices refer to.
        data_dir: Look for the run's dataset here first.
        weights: best or last.
        label: cvae: encode and decode both ends with this class (default: each example's own; needed for image files).
    """
    check_output(out, ".png")
    path_times(steps, extrapolate)  # checks --steps and --extrapolate before any work
    model = _model(run_dir, weights)
    data = run.load_split(run_dir, split, data_dir) if a_file is None or b_file is None else None
    xa, xb = example(run_dir, data, a, a_file, "a"), example(run_dir, data, b, b_file, "b")
    ya, yb = condition_of(model, data, a, a_file, label, "a"), condition_of(model, data, b, b_file, label, "b")
    images = interpolate(model, xa, xb, steps, method, extrapolate, conditions=None if ya is None else (ya, yb))
    return save_grid(images, out, nrow=images.shape[0])


def traverse_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    dims: str | None = None,
    top: int = 10,
    span: Annotated[float, tyro.conf.arg(name="range")] = 3.0,
    steps: int = 9,
    input_index: Annotated[int | None, tyro.conf.arg(name="input")] = None,
    input_file: Path | None = None,
    split: Split = "test",
    data_dir: Path | None = None,
    weights: Weights = "best",
    factors: bool = True,
    label: int | None = None,
) -> Path:
    """One row per latent dimension, set to values in [-range, range]; most informative first.

    On data with known generative factors (shapes, faces) each row is labelled with the factor its
    latent captures best: the largest mutual information with it over the factor's entropy, as MIG
    measures it, on --split.

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: PNG file to write.
        dims: Comma-separated dimensions, e.g. 0,3,5 (default: the --top dimensions with the largest mean KL).
        top: Without --dims: how many dimensions, most informative first.
        span: Values from -range to range (prior standard deviations).
        steps: Values per row.
        input_index: Vary around the posterior mean of this example of --split (default: the prior mean, 0).
        input_file: ... or of this image file (resized to the model's input).
        split: Split for --input and for ordering dimensions by KL.
        data_dir: Look for the run's dataset here first.
        weights: best or last.
        factors: Label the rows with the factor each latent captures (data with known factors; reads the run's data).
        label: cvae: decode every image as this class (default: the --input example's own, or class 0 around the prior mean).
    """
    check_output(out, ".png")
    at_least("top", top, 1)
    at_least("steps", steps, 1)
    in_range("range", span, 0)
    order = ints(dims, "dims") if dims else None
    model = _model(run_dir, weights)
    splits = run.load_splits(run_dir, data_dir) if order is None or input_index is not None or factors else None
    data = getattr(splits, split) if splits is not None else None
    order = order if order is not None else kl_order(model, data)[:top]
    x = None if input_index is None and input_file is None else example(run_dir, data, input_index, input_file, "input")
    if x is None and label is None and model.conditioning == "label":
        label = 0  # around the prior mean there is no example to take a class from
    y = condition_of(model, data, input_index, input_file, label, "input")
    labels = _factor_labels(model, order, data, splits.factor_names) if factors else None
    return save_grid(traverse(model, order, span, steps, x, condition=y), out, nrow=steps, row_labels=labels)


def _factor_labels(model: LatentModel, dims: list[int], data: InMemoryDataset, names: tuple[str, ...] | None) -> list[str] | None:
    """'z3: x 0.71' for each traversed dimension: the factor it captures best and its normalised
    mutual information ('z4: inactive' for a VAE's unused dimension); None when the data have no
    known factors."""
    if data.factors is None or names is None or len(data) < 20:
        return None
    means = posterior_means(model, data).double().cpu()  # (N, D)
    nmi = np.nan_to_num(normalized_mutual_info(means.numpy(), data.factors.cpu().numpy()), nan=-1.0)  # (D, F); constant factors never win
    # A VAE's unused dimension still varies a little with x, and MI does not see scale: call it inactive (Burda et al.'s test).
    inactive = (means.var(0) <= ACTIVE_THRESHOLD).tolist() if model.has_prior else [False] * means.shape[1]
    labels = []
    for d in dims:
        f = int(nmi[d].argmax())
        labels.append(f"z{d}: inactive" if inactive[d] else f"z{d}: {names[f]} {nmi[d, f]:.2f}")
    return labels


def attribute_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    attribute: str,
    against: str | None = None,
    strength: str = "-2,-1,0,1,2",
    inputs: str = "0,1,2",
    save_vector: Path | None = None,
    data_dir: Path | None = None,
    weights: Weights = "best",
    input_files: str | None = None,
    keep: str | None = None,
    label: int | None = None,
) -> Path:
    """Edit inputs along an attribute vector: mean code with the attribute minus without it.

    A label-conditioned cvae encodes and decodes each input with its class; the vector then moves
    what the class does not say (a digit's slant, its thickness). A model conditioned on attributes is
    edited through its condition instead: `vaekit reconstruct RUN --set smiling=1`.

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: PNG file to write (one row per input, one column per strength).
        attribute: label=K, a class name (label=cats), or an attribute of the folder's attribute file (smiling, smiling=0).
        against: Compare with these examples instead of all without the attribute, e.g. label=1.
        strength: Comma-separated multiples of the vector to add.
        inputs: Comma-separated indices of test examples to edit.
        save_vector: Also save the vector as .npy.
        data_dir: Look for the run's dataset here first.
        weights: best or last.
        input_files: Comma-separated image files to edit instead of test examples.
        keep: Comma-separated attributes to hold fixed, or 'all' for every other one: the vector loses the directions their
            linear read-outs change in (InterFaceGAN's conditional manipulation), e.g. a smile that does not open the mouth.
        label: cvae: encode and decode the inputs with this class (default: each test example's own; needed for --input-files).
    """
    check_output(out, ".png")
    if save_vector is not None:
        check_output(save_vector, ".npy", "arrays")
    strengths, index = floats(strength, "strength"), None if input_files else ints(inputs, "inputs")
    model = _model(run_dir, weights)
    if model.conditioning == "attributes":
        raise ConfigError(
            f"{run_dir} is conditioned on its attributes, so its codes leave them out: edit the condition instead, "
            "e.g. vaekit reconstruct RUN --set smiling=1 --out edited.png"
        )
    config = run.data_config(run_dir)
    splits = load_dataset(replace(config, limit=None, data_dir=data_dir or config.data_dir))
    means = posterior_means(model, splits.train)  # (N, D)
    vector = attribute_vector(
        means, select(splits, splits.train, attribute), None if against is None else select(splits, splits.train, against)
    )
    if keep is not None:
        held = torch.stack([select(splits, splits.train, name) for name in _kept(splits, attribute, keep)], 1)  # (N, M)
        vector = conditional_vector(vector, linear_readout(means, held)[0])  # (D,)
    if save_vector is not None:
        save_npy(save_vector, vector.cpu().numpy())
    if input_files:
        x = torch.cat([example(run_dir, splits.test, None, Path(f.strip()), "input") for f in input_files.split(",") if f.strip()])
    else:
        if not index or any(not 0 <= i < len(splits.test) for i in index):
            raise ConfigError(f"--inputs {index}: the test split has {len(splits.test)} examples (0..{len(splits.test) - 1})")
        x = splits.test.batch(torch.tensor(index))  # (B, C, H, W)
    if label is not None:
        y = label_condition(model, label, x.shape[0])
    elif model.conditioning is not None and input_files:
        raise ConfigError("this model is conditioned on class labels and --input-files gives none: add --label L (the class to use)")
    elif model.conditioning is not None:
        y = splits.test.condition(torch.tensor(index), model.conditioning, model.condition_dim)  # (B, Y)
    else:
        y = None
    return save_grid(apply_attribute(model, x, vector, strengths, condition=y), out, nrow=len(strengths))


def _kept(splits: DatasetSplits, attribute: str, keep: str) -> list[str]:
    """The attributes ``--keep`` names ('all': every attribute but the edited one)."""
    edited = attribute.partition("=")[0].strip().lower()
    if keep.strip().lower() == "all":
        names = [n for n in splits.attribute_names or () if n.lower() != edited]
        if not names:
            raise ConfigError("--keep all: this dataset has no other attributes to hold fixed")
        return names
    names = [n.strip() for n in keep.split(",") if n.strip()]
    if not names:
        raise ConfigError("--keep needs attribute names, like mouth_open,eyes_open, or 'all'")
    if any(n.lower() == edited for n in names):
        raise ConfigError(f"--keep {keep}: cannot hold fixed the attribute being edited ({edited})")
    return names


def _bits_per_value(data: InMemoryDataset) -> float:
    """Storage of one input value: 1 bit (binary), 8 bits (8-bit levels) or 32 bits (floats)."""
    if data.x.dtype == torch.uint8:
        return 1.0 if data.scale == 1.0 else 8.0
    return 32.0


def encode_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    data: str | None = None,
    split: Split = "test",
    data_dir: Path | None = None,
    limit: int | None = None,
    weights: Weights = "best",
) -> tuple[Path, float]:
    """Compress a split to latent codes (.npz with mu, logvar or codes, labels, attributes).

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: .npz file to write.
        data: Another dataset of the same shape (default: the run's).
        split: Which split.
        data_dir: Look for the dataset here first.
        limit: Only the first N examples.
        weights: best or last.

    Returns:
        The file, and the compression ratio: bits of an input over bits of its code (float32 means,
        or log2 K bits per VQ slot).
    """
    check_output(out, ".npz", "arrays")
    if limit is not None:
        at_least("limit", limit, 1)
    model = run.load(run_dir, weights=weights)
    examples = run.load_split(run_dir, split, data_dir, limit, name=data)
    if tuple(examples.shape) != tuple(model.data_shape):
        raise DataError(f"the data have shape {tuple(examples.shape)} but the model takes {tuple(model.data_shape)}")
    codes = encode_split(model, examples)
    arrays = {"mu": codes.mu.numpy()}
    if codes.logvar is not None:
        arrays["logvar"] = codes.logvar.numpy()
    if codes.codes is not None:
        arrays["codes"] = codes.codes.numpy()
    if examples.labels is not None:
        arrays["labels"] = examples.labels.numpy()
    if examples.attributes is not None:
        arrays["attributes"] = examples.attributes.numpy()  # what an attribute-conditioned model decodes with
    input_bits = math.prod(examples.shape) * _bits_per_value(examples)
    code_bits = model.slots * math.log2(model.codebook_size) if model.codebook_size else 32.0 * model.latent_dim
    return save_arrays(out, **arrays), input_bits / code_bits


def decode_run(
    run_dir: tyro.conf.Positional[Path], latents: tyro.conf.Positional[Path], out: Path, weights: Weights = "best", label: int | None = None
) -> Path:
    """Decode the 'mu' rows of a latents .npz (from vaekit encode) to a PNG grid or an .npz of images.

    A cvae decodes each row with the condition `vaekit encode` stored beside it ('labels' or
    'attributes'), or with --label.

    Args:
        run_dir: A run directory written by `vaekit train`.
        latents: An .npz written by `vaekit encode` (its 'mu' array, one row per example).
        out: .png (a grid) or .npz (the images as an array).
        weights: best or last.
        label: cvae: decode every row as this class (default: the file's 'labels').
    """
    suffix = ".npz" if Path(out).suffix.lower() == ".npz" else ".png"
    check_output(out, suffix, "arrays" if suffix == ".npz" else "images")
    model = _model(run_dir, weights)
    hint = "give an .npz written by vaekit encode"
    arrays = read_arrays(Path(latents))  # read once: 'mu' and the conditions beside it
    mu = read_array(Path(latents), "mu", hint=hint, arrays=arrays)
    if mu.ndim != 2 or mu.shape[1] != model.latent_dim or len(mu) == 0:
        raise DataError(f"{latents}: 'mu' has shape {mu.shape}; expected (N, {model.latent_dim}) with N >= 1, as vaekit encode writes")
    memory.require(len(mu) * math.prod(model.data_shape) * 4 * 2, f"decoding {len(mu):,} latents", "decode fewer rows")
    y = label_condition(model, label, len(mu)) if label is not None else _stored_conditions(model, Path(latents), arrays, len(mu), hint)
    with torch.no_grad():
        images = model.decode(torch.from_numpy(np.ascontiguousarray(mu, dtype=np.float32)), y).mean  # (N, C, H, W)
    if suffix == ".npz":
        return save_arrays(out, images=images.numpy())
    return save_grid(images, out)


def _stored_conditions(model: LatentModel, latents: Path, arrays: dict[str, np.ndarray], rows: int, hint: str) -> torch.Tensor | None:
    """A conditional model's conditions for the rows of ``latents`` (read as ``arrays``), from its 'labels' or 'attributes'."""
    if model.conditioning is None:
        return None
    key = "labels" if model.conditioning == "label" else "attributes"
    if key not in arrays:
        extra = " or give --label L" if key == "labels" else ""
        raise DataError(f"{latents}: this model is conditioned on {condition_noun(model)} and the file has no '{key}' array; {hint}{extra}")
    values = read_array(latents, key, hint=hint, arrays=arrays)
    if values.ndim != (1 if key == "labels" else 2) or len(values) != rows:
        raise DataError(f"{latents}: '{key}' has shape {values.shape}, which does not match the {rows} rows of 'mu'; {hint}")
    if key == "labels":
        if values.dtype.kind not in "iu" or values.min() < 0 or values.max() >= model.condition_dim:
            raise DataError(f"{latents}: 'labels' must be integers in 0..{model.condition_dim - 1} for this model; {hint}")
        return torch.from_numpy(np.eye(model.condition_dim, dtype=np.float32)[values])  # (N, classes)
    if values.shape[1] != model.condition_dim:
        raise DataError(
            f"{latents}: 'attributes' has {values.shape[1]} columns; this model is conditioned on {model.condition_dim}; {hint}"
        )
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))


def latent_map_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    method: Literal["pca", "tsne"] = "pca",
    split: Split = "test",
    limit: int | None = 2000,
    data_dir: Path | None = None,
    weights: Weights = "best",
) -> Path:
    """Posterior means of a split in 2-D, coloured by label; a 2-D latent also gets its decoded manifold.

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: PNG file to write.
        method: How to bring more than 2 dimensions down to 2.
        split: Which split.
        limit: At most this many examples (t-SNE is slow on many points).
        data_dir: Look for the run's dataset here first.
        weights: best or last.
    """
    check_output(out, ".png")
    if limit is not None:
        at_least("limit", limit, 1)
    model = _model(run_dir, weights)
    splits = run.load_splits(run_dir, data_dir)
    data = splits.split(split)
    data = data.head(limit) if limit else data
    means = posterior_means(model, data).cpu()  # (N, D)
    points = embed_2d(means, method)
    title = f"{split} posterior means" + ("" if means.shape[1] == 2 else f", {method.upper()} of {means.shape[1]} dimensions")
    grid_image = None
    if model.conditioning is not None:
        title += f", encoded with their {condition_noun(model)}"  # a cvae's codes should not separate the classes
    elif means.shape[1] == 2 and len(data.shape) == 3:  # the decoded manifold (a cvae's would need a class per picture)
        grid_image = grid(manifold(model), nrow=15, pad=0)
    labels = None if data.labels is None else data.labels.cpu()
    return save_figure(latent_map_figure(points, labels, title, grid_image, splits.classes), out)
