"""Library entry points that tie data, models, objectives, training and generation together.

The CLI only parses arguments and calls these; Python users call them directly. Everything that
can be checked (names, files, shapes) is checked before a run directory is created, so bad input
never leaves a half-written run behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from vaekit import distributed, rundir
from vaekit.data import DataConfig, DatasetSplits, InMemoryDataset, dataset_info, load_dataset
from vaekit.data.sources import cache_dir
from vaekit.errors import ConfigError, RunDirError
from vaekit.evaluation import Report, evaluate
from vaekit.evaluation.disentanglement import disentanglement_scores
from vaekit.evaluation.fidelity import feature_extractor, sample_quality
from vaekit.generation import posterior_means, fit_code_prior, interleave_rows, one_hot_labels, reconstruct, sample, sample_vq, save_grid
from vaekit.models import MODELS, PRESETS, LatentModel, ModelConfig, build_model, resolve_model_config
from vaekit.objectives import ObjectiveConfig, check_options, make_objective
from vaekit.training import TrainConfig, Trainer, TrainResult, resolve_device

IMAGE_SEED = 2024  # the same latents and examples every epoch, so image grids are comparable
GRID = 64


@dataclass(frozen=True)
class RunConfig:
    """Everything a run is made of; saved as ``config.json``."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    train: TrainConfig = TrainConfig()
    preset: str | None = None


def preset_run_config(model: str | None = None, preset: str | None = None) -> RunConfig:
    """The starting point of ``--model`` and/or ``--preset``: the family's objective defaults, and a
    recipe preset's dataset, objective and training settings."""
    model_config = resolve_model_config(model, preset)
    recipe = PRESETS[preset] if preset is not None else None
    objective = ObjectiveConfig(**(MODELS[model_config.kind].objective_defaults | (recipe.objective if recipe else {})))
    train = TrainConfig(**(recipe.train if recipe else {}))
    data = DataConfig(name=recipe.data) if recipe is not None and recipe.data is not None else DataConfig()
    return RunConfig(data, model_config, objective, train, preset)


def _run_config_from_dict(values: dict[str, Any], where: Path) -> RunConfig:
    parts = {"data": DataConfig, "model": ModelConfig, "objective": ObjectiveConfig, "train": TrainConfig}
    kwargs = {k: rundir.config_from_dict(cls, values.get(k, {}), where) for k, cls in parts.items()}
    return RunConfig(**kwargs, preset=values.get("preset"))


def read_run_config(run_dir: Path) -> RunConfig:
    """The ``RunConfig`` saved in a run directory."""
    return _run_config_from_dict(rundir.read_config(run_dir), Path(run_dir) / rundir.CONFIG)


def default_run_dir(config: RunConfig) -> Path:
    """runs/<model>-<data>-<timestamp>: a fresh directory for each run."""
    name = config.preset or config.model.kind
    data = config.data.name.partition(":")[0] if ":" in config.data.name else config.data.name
    return Path("runs") / f"{name}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"


def _check_new_run_dir(out: Path) -> None:
    if (out / rundir.CONFIG).exists():
        raise RunDirError(f"{out} already holds a run; continue it with `vaekit train --resume {out}` or choose another --out")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirError(f"{out} exists and is not an empty directory; choose another --out")


def image_callback(run_dir: Path, data: DatasetSplits, epochs: int):
    """Write sample and reconstruction grids to RUN/images/ about ten times a run and at the end."""
    every = max(1, epochs // 10)
    images = run_dir / rundir.IMAGES
    images.mkdir(exist_ok=True)
    examples = data.valid if len(data.valid) else data.train
    n = min(32, len(examples))

    def on_epoch_end(epoch: int, model: torch.nn.Module) -> None:
        if epoch % every and epoch != epochs:
            return
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        x = examples.batch(slice(0, n), torch.Generator(device=device).manual_seed(IMAGE_SEED))  # (n, C, H, W)
        y = examples.condition(slice(0, n), model.conditioning, model.condition_dim)
        save_grid(interleave_rows(x, reconstruct(model, x, y), 8), images / f"reconstructions_{epoch:04d}.png", nrow=8)
        if model.has_prior:
            generator = torch.Generator(device=device).manual_seed(IMAGE_SEED)
            save_grid(sample(model, GRID, generator, condition=sample_conditions(model, examples, GRID, None)),
                      images / f"samples_{epoch:04d}.png", nrow=8)
        model.train(was_training)

    return on_epoch_end


def _prepare(config: RunConfig, device: torch.device) -> tuple[DatasetSplits, RunConfig, LatentModel]:
    if MODELS[config.model.kind].objective == "sparse" and config.objective.sparsity == "kl" and config.model.latent_activation != "sigmoid":
        raise ConfigError("--sparsity kl needs codes in (0, 1): add --latent-activation sigmoid (or use --sparsity l1)")
    data = load_dataset(config.data)
    model_cfg = config.model.for_data(data.shape, config.preset)
    if MODELS[model_cfg.kind].conditional:  # raises when the data have no labels / attributes
        dim = max(split.condition_dim(model_cfg.condition) for split in (data.train, data.valid, data.test) if len(split))
        model_cfg = replace(model_cfg, condition_dim=dim)
    epochs = config.train.epochs or dataset_info(config.data.name).default_epochs
    config = replace(config, model=model_cfg, train=replace(config.train, epochs=epochs))
    torch.manual_seed(config.train.seed)
    model = build_model(model_cfg).to(device)
    return data.to(device), config, model


def _trainer(config: RunConfig, data: DatasetSplits, model: LatentModel, out: Path, images: bool) -> Trainer:
    objective = make_objective(MODELS[config.model.kind].objective, config.objective)
    callback = image_callback(out, data, config.train.epochs) if images and len(data.shape) == 3 else None  # no grids of tabular rows
    return Trainer(model, objective, data, config.train, out, on_epoch_end=callback)


Echo = Callable[[str], None]


def _describe(config: RunConfig, data: DatasetSplits, model: LatentModel, out: Path) -> str:
    n_params = sum(p.numel() for p in model.parameters())
    return (
        f"training {config.preset or config.model.kind} ({n_params:,} parameters) on {data.name} from {data.source}: "
        f"{len(data.train)} train / {len(data.valid)} valid examples, {config.train.epochs} epochs -> {out}"
    )


def train(config: RunConfig, out: Path | None = None, images: bool = True, stop_at_step: int | None = None,
          echo: Echo | None = None) -> TrainResult:
    """Train a new run into ``out`` (default: a fresh directory under runs/).

    Raises:
        VaekitError: unknown names, missing or corrupt data, a non-empty ``out`` (checked before
            anything is written), or a diverged loss (the last good checkpoint is kept).
    """
    device = distributed.setup(resolve_device(config.train.device))  # joins torchrun's processes, if any
    world = distributed.current()
    out = Path(out) if out is not None else distributed.from_main(default_run_dir(config))  # rank 0's clock names it
    _check_new_run_dir(out)
    spec = MODELS[config.model.kind]
    check_options(spec.objective, config.objective, ObjectiveConfig(**spec.objective_defaults))
    data, config, model = _prepare(config, device)
    echo = echo if world.is_main else None
    if echo:
        echo(_describe(config, data, model, out) + (f" on {world.size} processes" if world.active else ""))
        for note in data.notes:
            echo(f"note: {note}")
    distributed.barrier()  # every rank has checked --out before rank 0 creates it
    if world.is_main:
        out.mkdir(parents=True, exist_ok=True)
        _write_config(out, config, world.size)
    return _trainer(config, data, model, out, images).fit(stop_at_step=stop_at_step)


def resume(run_dir: Path, epochs: int | None = None, device: str | None = None, progress: bool | None = None,
           images: bool = True, stop_at_step: int | None = None, echo: Echo | None = None) -> TrainResult:
    """Continue a run where its last checkpoint stopped, optionally to a new total of ``epochs``."""
    run_dir = Path(run_dir)
    saved = rundir.read_config(run_dir)
    config = _run_config_from_dict(saved, run_dir / rundir.CONFIG)
    changes = {k: v for k, v in (("epochs", epochs), ("device", device), ("progress", progress)) if v is not None}
    config = replace(config, train=replace(config.train, **changes))
    dev = distributed.setup(resolve_device(config.train.device))
    world, trained_on = distributed.current(), saved.get("world_size", 1)
    if world.size != trained_on:  # the data order and each step's examples depend on it
        how = f"torchrun --nproc_per_node {trained_on} -m vaekit train --resume {run_dir}" if trained_on > 1 else f"vaekit train --resume {run_dir} (one process)"
        raise ConfigError(f"{run_dir} was trained by {trained_on} process(es) and this is {world.size}; resume it the same way: {how}")
    if changes and world.is_main:
        _write_config(run_dir, config, world.size)
    data, config, model = _prepare(config, dev)
    trainer = _trainer(config, data, model, run_dir, images)
    trainer.resume()
    echo = echo if world.is_main else None
    if echo:
        p = trainer.progress
        if p.epoch >= config.train.epochs:
            echo(f"{run_dir} has already trained {p.epoch} epochs; pass --epochs N (a larger total) to train longer")
        else:
            echo(f"resuming {run_dir} at epoch {p.epoch + 1} step {p.step_in_epoch} of {config.train.epochs} epochs")
    return trainer.fit(stop_at_step=stop_at_step)


def load_run_splits(run_dir: Path, data_dir: Path | None = None, name: str | None = None) -> DatasetSplits:
    """All splits of the dataset a run was trained on (same binarization and validation size, every
    training example), or of another dataset ``name`` loaded the same way (same binarization)."""
    config = read_run_config(run_dir).data
    if data_dir is not None:
        config = replace(config, data_dir=data_dir)
    if name is not None and name != config.name:
        config = replace(config, name=name, valid_size=None, attributes=None)
    return load_dataset(replace(config, limit=None))


def load_run_data(run_dir: Path, split: str, data_dir: Path | None = None, limit: int | None = None, device: str | torch.device = "cpu",
                  name: str | None = None):
    """One split of ``load_run_splits``, its first ``limit`` examples, on ``device``."""
    data = load_run_splits(run_dir, data_dir, name).split(split)
    return (data.head(limit) if limit else data).to(device)


def evaluate_run(run_dir: Path, split: str = "test", iw_samples: int = 1000, limit: int | None = None, seed: int = 0,
                 data_dir: Path | None = None, weights: str = "best", device: str = "auto", ood_data: str | None = None,
                 fid: bool = False, fid_samples: int = 10_000, disentanglement: bool = False) -> Report:
    """``vaekit evaluate``: the metrics of a run's model on one split (and OOD AUROC against the
    test split of ``ood_data``, same shape, same ``limit``; sample quality with ``fid``, against up to
    ``fid_samples`` examples of the split; disentanglement scores on data with known factors)."""
    dev = distributed.setup(resolve_device(device))  # under torchrun the split's batches are spread over the processes
    model = rundir.load(run_dir, weights=weights, device=dev)
    data = load_run_data(run_dir, split, data_dir, limit, dev)
    outliers = None if ood_data is None else load_run_data(run_dir, "test", data_dir, limit, dev, name=ood_data)
    report = evaluate(model, data, split, iw_samples, torch.Generator(device=dev).manual_seed(distributed.rank_seed(seed)), outliers=outliers)
    if not distributed.current().is_main:
        return report  # sample quality and disentanglement are computed by rank 0 alone
    if fid:
        report = replace(report, **_sample_quality(run_dir, model, data, data_dir, fid_samples, seed, dev))
    if disentanglement:
        report = replace(report, **_disentanglement(run_dir, model, data, seed))
    return report


def _disentanglement(run_dir: Path, model: LatentModel, data: InMemoryDataset, seed: int) -> dict[str, float]:
    """MIG, DCI, SAP, FactorVAE and β-VAE scores of the posterior means against the data's factors."""
    if model.conditioning is not None:
        raise ConfigError("--disentanglement scores unconditional models; this run is conditional (cvae)")
    if data.factors is None:
        name = read_run_config(run_dir).data.name
        raise ConfigError(f"--disentanglement needs data with known generative factors; '{name}' has none (train on --data shapes)")
    codes = posterior_means(model, data).double().cpu().numpy()  # (N, D)
    return disentanglement_scores(codes, data.factors.cpu().numpy(), seed)


def _draw_samples(model: LatentModel, train: InMemoryDataset, n: int, generator: torch.Generator, chunk: int = 500) -> torch.Tensor:
    """n samples of the model, (n, C, H, W), decoded ``chunk`` at a time (cvae: classes in turn, or
    the training examples' attribute vectors in order)."""
    log_prior = fit_code_prior(model, train) if model.codebook_size else None
    condition = None if log_prior is not None else sample_conditions(model, train, n, None)  # (n, Y) or None
    parts = []
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        if log_prior is not None:
            parts.append(sample_vq(model, log_prior, m, generator))
        else:
            parts.append(sample(model, m, generator, condition=None if condition is None else condition[start:start + m]))
    return torch.cat(parts)


def _sample_quality(run_dir: Path, model: LatentModel, real: InMemoryDataset, data_dir: Path | None, n: int, seed: int,
                    device: torch.device) -> dict[str, float]:
    """frechet_distance / precision / recall of n samples against n examples of ``real``; {} for
    models that cannot sample (plain autoencoders)."""
    if not model.has_prior and not model.codebook_size:
        return {}
    splits = load_run_splits(run_dir, data_dir).to(device)  # one load for both splits
    train, valid = splits.train, splits.valid
    extractor = feature_extractor(read_run_config(run_dir).data.name, train, valid if len(valid) else real, cache_dir())
    generator = torch.Generator(device=device).manual_seed(seed)
    n = min(n, len(real))
    x_real = real.batch(slice(0, n), generator)  # (n, C, H, W)
    fake = _draw_samples(model, train, n, generator)  # (n, C, H, W) means of p(x|z)
    if bool(((x_real == 0) | (x_real == 1)).all()):  # binary data: compare binary draws from p(x|z), not grey means
        fake = torch.bernoulli(fake.clamp(0, 1), generator=generator)
    q = sample_quality(extractor, x_real, fake)
    return {"frechet_distance": q.frechet_distance, "precision": q.precision, "recall": q.recall,
            "fid_classifier_accuracy": q.feature_accuracy}


def sample_conditions(model: LatentModel, examples, n: int, label: int | None) -> torch.Tensor | None:
    """Conditions for n samples: the given label, else the classes in turn (label-conditioned
    models), the attribute vectors of the first n examples (attribute-conditioned), or None."""
    if label is not None and model.conditioning != "label":
        raise ConfigError("--label needs a run of a label-conditioned model (--model cvae); this one is not")
    if model.conditioning == "label":
        device = next(model.parameters()).device
        labels = [label] * n if label is not None else [i % model.condition_dim for i in range(n)]
        return one_hot_labels(labels, model.condition_dim, device)
    if model.conditioning == "attributes":
        return examples.condition(torch.arange(n, device=examples.x.device) % len(examples), "attributes", model.condition_dim)
    return None


def sample_run(run_dir: Path, out: Path, n: int = 64, temperature: float = 1.0, seed: int = 0, weights: str = "best",
               label: int | None = None, data_dir: Path | None = None) -> Path:
    """``vaekit sample``: a PNG grid of n samples from the prior (of class ``label`` for a cvae)."""
    model = rundir.load(run_dir, weights=weights)
    generator = torch.Generator().manual_seed(seed)
    if model.codebook_size:  # VQ-VAE: draw codes from a prior fitted to the training codes
        log_prior = fit_code_prior(model, load_run_data(run_dir, "train", data_dir))
        return save_grid(sample_vq(model, log_prior, n, generator), out)
    examples = load_run_data(run_dir, "test", data_dir, n) if model.conditioning == "attributes" else None
    condition = sample_conditions(model, examples, n, label)
    return save_grid(sample(model, n, generator, temperature, condition), out)


def reconstruct_run(run_dir: Path, out: Path, n: int = 32, split: str = "test", data_dir: Path | None = None, weights: str = "best") -> Path:
    """``vaekit reconstruct``: rows of originals, each above its reconstructions."""
    model = rundir.load(run_dir, weights=weights)
    data = load_run_data(run_dir, split, data_dir, n)
    x = data.batch(slice(0, n))  # (n, C, H, W)
    y = data.condition(slice(0, n), model.conditioning, model.condition_dim)
    return save_grid(interleave_rows(x, reconstruct(model, x, y), 8), out, nrow=8)


def _write_config(run_dir: Path, config: RunConfig, world_size: int) -> None:
    """config.json: the configuration, the vaekit version and the number of processes that train (torchrun)."""
    rundir.atomic_write_json(run_dir / rundir.CONFIG, {"vaekit_version": _version(), "world_size": world_size, **rundir.config_to_dict(config)})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vaekit")
    except PackageNotFoundError:
        return "unknown"
