"""``vaekit train``: fit a new run, or continue one (``--resume``).

Everything that can be checked (names, options a family would ignore, files, shapes, the data's
support, the memory the model needs, that ``--out`` can be written and is free) is checked before
the run directory is created. The directory is then locked to this process (a second ``vaekit
train`` on it is refused), and if anything fails before the first checkpoint is whole, what was
written is removed again: a run directory is either resumable or not there.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated

import torch
import tyro

from vaekit.commands.runconfig import RunConfig, read_run_config
from vaekit.commands.tracking import tracking_callback
from vaekit.data import DataConfig, DatasetSplits, dataset_info, load_dataset
from vaekit.data.registry import resolved
from vaekit.distributions import COUNT_LIKELIHOODS
from vaekit.errors import ConfigError, RunDirError
from vaekit.generation import fit_code_prior, interleave_rows, reconstruct, sample, sample_conditions, save_grid
from vaekit.models import MODELS, LatentModel, ModelConfig, build_model, check_model_options
from vaekit.models.compiled import compile_networks, eager_reason
from vaekit.models.memory import require_fits
from vaekit.objectives import ObjectiveConfig, check_options, make_objective
from vaekit.objectives.adversarial import with_adversarial
from vaekit.objectives.elbo import ms_ssim_window
from vaekit.run.config import world_size as trained_world_size
from vaekit.run.config import write_config
from vaekit.run.layout import CONFIG, IMAGES, LOCK
from vaekit.runtime import distributed
from vaekit.runtime.files import make_dir, writable_dir
from vaekit.runtime.lock import DirectoryLock
from vaekit.training import TrainConfig, Trainer, TrainResult, resolve_device

IMAGE_SEED = 2024  # the same latents and examples every epoch, so image grids are comparable
GRID = 64
PRIOR_EXAMPLES = 10_000  # training examples a VQ-VAE's image-grid code prior is fitted to
RESUMABLE = ("epochs", "device", "progress", "compile", "tensorboard", "mlflow")  # what --resume may change
SWITCHES = ("compile", "tensorboard", "mlflow")  # the resumable flags that are off by default (--no-X turns them off again)
Echo = Callable[[str], None]


def default_run_dir(config: RunConfig) -> Path:
    """runs/<model>-<data>-<timestamp>: a fresh directory for each run."""
    name = config.preset or config.model.kind
    data = config.data.name.partition(":")[0] if ":" in config.data.name else config.data.name
    return Path("runs") / f"{name}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"


def _check_new_run_dir(out: Path) -> None:
    if (out / CONFIG).exists():
        raise RunDirError(
            f"{out} already holds a run; continue it with `vaekit train --resume {out}` "
            f"(Python: vaekit.resume('{out}')) or choose another --out"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirError(f"{out} exists and is not an empty directory; choose another --out")
    writable_dir(out)


def image_callback(run_dir: Path, data: DatasetSplits, epochs: int) -> Callable[[int, LatentModel, dict[str, float]], None]:
    """Write sample and reconstruction grids to RUN/images/ about ten times a run and at the end."""
    every = max(1, epochs // 10)
    images = run_dir / IMAGES
    examples = data.valid if len(data.valid) else data.train
    n = min(32, len(examples))

    def on_epoch_end(epoch: int, model: LatentModel, metrics: dict[str, float]) -> None:  # noqa: ARG001 -- grids need no metrics
        if epoch % every and epoch != epochs:
            return
        images.mkdir(exist_ok=True)
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        x = examples.batch(slice(0, n), torch.Generator(device=device).manual_seed(IMAGE_SEED))  # (n, C, H, W)
        y = examples.condition(slice(0, n), model.conditioning, model.condition_dim)
        save_grid(interleave_rows(x, reconstruct(model, x, y), nrow=8), images / f"reconstructions_{epoch:04d}.png", nrow=8)
        if model.has_prior or model.codebook_size:
            generator = torch.Generator(device=device).manual_seed(IMAGE_SEED)
            code_prior = fit_code_prior(model, data.train.head(PRIOR_EXAMPLES)) if model.codebook_size else None
            drawn = sample(model, GRID, generator, condition=sample_conditions(model, GRID, examples=examples), code_prior=code_prior)
            save_grid(drawn, images / f"samples_{epoch:04d}.png", nrow=8)
        model.train(was_training)

    return on_epoch_end


def _check_options(config: RunConfig) -> None:
    spec = MODELS[config.model.kind]
    check_options(spec.objective, config.objective, ObjectiveConfig(**spec.objective_defaults))
    check_model_options(config.model)
    if spec.objective == "sparse" and config.objective.sparsity == "kl" and config.model.latent_activation != "sigmoid":
        raise ConfigError("--sparsity kl needs codes in (0, 1): add --latent-activation sigmoid (or use --sparsity l1)")
    if config.objective.free_bits > 0 and (config.model.flow != "none" or config.model.kind == "vamp"):
        why = f"--flow {config.model.flow}" if config.model.flow != "none" else "the VampPrior"
        raise ConfigError(
            f"--free-bits needs the KL of each latent dimension, which {why} does not have (its KL is a Monte-Carlo estimate)"
        )
    if spec.objective in ("miwae", "piwae") and config.model.samples % config.objective.groups:
        raise ConfigError(f"--groups {config.objective.groups} must divide --samples {config.model.samples}; use a multiple of it")


def _check_ms_ssim(config: RunConfig, shape: tuple[int, ...]) -> None:
    """--reconstruction ms-ssim needs images large enough for its four halvings (pytorch-msssim)."""
    if config.objective.reconstruction != "ms-ssim":
        return
    if len(shape) != 3 or ms_ssim_window(shape[1], shape[2]) is None:
        raise ConfigError(
            f"--reconstruction ms-ssim needs images with both sides over 32 pixels (MS-SSIM halves them 4 times), "
            f"but the data's examples have shape {tuple(shape)}; use --image-size 64, or --reconstruction likelihood"
        )


def _prepare(config: RunConfig, device: torch.device) -> tuple[DatasetSplits, RunConfig, LatentModel]:
    """The data on ``device``, the config with everything the data decides filled in, the model."""
    config = replace(config, data=resolved(config.data))  # config.json records the image size used
    data = load_dataset(config.data)
    model_cfg = config.model.for_data(data.shape, config.preset)
    if MODELS[model_cfg.kind].conditional:  # raises when the data have no labels / attributes
        dim = max(split.condition_dim(model_cfg.condition) for split in (data.train, data.valid, data.test) if len(split))
        model_cfg = replace(model_cfg, condition_dim=dim)
    epochs = config.train.epochs or dataset_info(config.data.name).default_epochs
    config = replace(config, model=model_cfg, train=replace(config.train, epochs=epochs))
    require_fits(model_cfg, min(config.train.batch_size, len(data.train)), training=True, device=device)
    with torch.random.fork_rng(devices=[]):  # a seeded initialisation that leaves the caller's global RNG as it was
        torch.manual_seed(config.train.seed)
        model = build_model(model_cfg).to(device)
    if model_cfg.likelihood in COUNT_LIKELIHOODS:  # means and samples of counts are drawn at the typical library size
        totals = torch.cat([chunk.flatten(1).sum(1) for chunk in data.train.value_chunks()])
        model.head.set_library(float(totals.double().mean()))
    return data.to(device), config, model


def _trainer(config: RunConfig, data: DatasetSplits, model: LatentModel, out: Path, images: bool, echo: Echo | None) -> Trainer:
    with torch.random.fork_rng(devices=[]):  # a critic's seeded initialisation (resume overwrites it)
        torch.manual_seed(config.train.seed + 1)
        objective = make_objective(MODELS[config.model.kind].objective, config.objective, model.latent_dim)
        objective = with_adversarial(objective, config.objective, model.data_shape, model.last_decoder_layer())
    callbacks = [image_callback(out, data, config.train.epochs)] if images and len(data.shape) == 3 else []  # no grids of tabular rows
    trainer: list[Trainer] = []
    tools = tuple(tool for tool, on in (("tensorboard", config.train.tensorboard), ("mlflow", config.train.mlflow)) if on)
    if tools:  # after the images, so it logs the grids of the same epoch
        steps = lambda: trainer[0].steps_per_epoch  # noqa: E731 -- read once the trainer exists
        kind = MODELS[config.model.kind].objective
        callbacks.append(tracking_callback(out, config.train, steps, kind, config.objective, data.valid, tools))

    def on_epoch_end(epoch: int, model: LatentModel, metrics: dict[str, float]) -> None:
        for callback in callbacks:
            callback(epoch, model, metrics)

    trainer.append(Trainer(model, objective, data, config.train, out, on_epoch_end=on_epoch_end if callbacks else None, echo=echo))
    return trainer[0]


def _compile(config: RunConfig, model: LatentModel) -> str | None:
    """With --compile: compile the model's networks in place; the note that says what was done."""
    if not config.train.compile:
        return None
    objective = MODELS[config.model.kind].objective
    return compile_networks(model, eager_reason(objective, config.objective.gradient_penalty))[1]


def _describe(config: RunConfig, data: DatasetSplits, model: LatentModel, out: Path) -> str:
    n_params = sum(p.numel() for p in model.parameters())
    return (
        f"training {config.preset or config.model.kind} ({n_params:,} parameters) on {data.name} from {data.source}: "
        f"{len(data.train)} train / {len(data.valid)} valid examples, {config.train.epochs} epochs -> {out}"
    )


def _remove_written(out: Path, created: bool) -> None:
    """Undo a run directory that never reached its first checkpoint (it was new or empty)."""
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for path in out.iterdir():
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def train(
    config: RunConfig, out: Path | None = None, images: bool = True, stop_at_step: int | None = None, echo: Echo | None = None
) -> TrainResult:
    """Train a new run into ``out`` (default: a fresh directory under runs/).

    Raises:
        VaekitError: unknown names, options the family ignores, missing or corrupt data, too little
            memory, an ``out`` that is taken, not empty or not writable (all checked before anything
            is written), or a diverged loss (the last good checkpoint is kept).
    """
    if not isinstance(config, RunConfig):
        raise ConfigError(f"train needs a RunConfig, got {type(config).__name__}")
    device = distributed.setup(resolve_device(config.train.device))  # joins torchrun's processes, if any
    world = distributed.current()
    out = Path(out) if out is not None else distributed.from_main(default_run_dir(config))  # rank 0's clock names it
    _check_new_run_dir(out)
    _check_options(config)
    data, config, model = _prepare(config, device)
    _check_ms_ssim(config, model.data_shape)
    trainer = _trainer(config, data, model, out, images, echo if world.is_main else None)
    compiled = _compile(config, model)
    trainer.check_data()
    distributed.barrier()  # every rank has checked --out before rank 0 creates it
    created, lock = False, None
    try:
        if world.is_main:
            created = make_dir(out)
            owner = DirectoryLock(out).acquire()
            if any(p.name != LOCK for p in out.iterdir()):  # another process filled it since the check above
                owner.release()
                _check_new_run_dir(out)
            lock = owner
            write_config(out, config, world.size)
            if echo:
                echo(_describe(config, data, model, out) + (f" on {world.size} processes" if world.active else ""))
                for note in [*data.notes, *([compiled] if compiled else [])]:
                    echo(f"note: {note}")
        trainer.start()  # the first checkpoint: from here on the run is resumable
    except BaseException:
        if world.is_main and lock is not None:
            lock.release()
            _remove_written(out, created)
        raise
    try:
        return trainer.fit(stop_at_step=stop_at_step)
    finally:
        if lock is not None:
            lock.release()


def resume(
    run_dir: Path,
    epochs: int | None = None,
    device: str | None = None,
    progress: bool | None = None,
    images: bool = True,
    stop_at_step: int | None = None,
    echo: Echo | None = None,
    compile: bool | None = None,  # noqa: A002 -- the --compile flag's name
    tensorboard: bool | None = None,
    mlflow: bool | None = None,
) -> TrainResult:
    """Continue a run where its last checkpoint stopped, optionally to a new total of ``epochs``.

    Only the number of epochs, the device, the progress display, --compile, --tensorboard and --mlflow may change; config.json is
    rewritten only once the new values are known to be valid (``epochs`` below what the run has
    already trained is refused and leaves it as it was).
    """
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    changes = {
        k: v
        for k, v in (
            ("epochs", epochs),
            ("device", device),
            ("progress", progress),
            ("compile", compile),
            ("tensorboard", tensorboard),
            ("mlflow", mlflow),
        )
        if v is not None
    }
    config = replace(config, train=replace(config.train, **changes))
    dev = distributed.setup(resolve_device(config.train.device))
    world, trained_on = distributed.current(), trained_world_size(run_dir)
    if world.size != trained_on:  # the data order and each step's examples depend on it
        how = (
            f"torchrun --nproc_per_node {trained_on} -m vaekit train --resume {run_dir}"
            if trained_on > 1
            else f"vaekit train --resume {run_dir} (one process)"
        )
        raise ConfigError(f"{run_dir} was trained by {trained_on} process(es) and this is {world.size}; resume it the same way: {how}")
    lock = DirectoryLock(run_dir).acquire() if world.is_main else None
    try:
        data, config, model = _prepare(config, dev)
        trainer = _trainer(config, data, model, run_dir, images, echo if world.is_main else None)
        compiled = _compile(config, model)
        trainer.resume()
        done = trainer.progress.epoch
        if epochs is not None and epochs < done:
            raise ConfigError(
                f"{run_dir} has already trained {done} epochs; --epochs {epochs} is fewer (it is the new total): "
                f"pass more than {done} to train longer"
            )
        if changes and world.is_main:
            write_config(run_dir, config, world.size)
        if world.is_main and echo:
            if done >= config.train.epochs:
                echo(f"{run_dir} has already trained {done} epochs; pass --epochs N (a larger total) to train longer")
            else:
                echo(f"resuming {run_dir} at epoch {done + 1} step {trainer.progress.step_in_epoch} of {config.train.epochs} epochs")
                if compiled:
                    echo(f"note: {compiled}")
        return trainer.fit(stop_at_step=stop_at_step)
    finally:
        if lock is not None:
            lock.release()


def resume_overrides(config: RunConfig, out: Path | None, switched_off: tuple[str, ...] = ()) -> dict[str, object]:
    """What a ``--resume`` may change (epochs, device, progress...) out of options given as a whole
    ``RunConfig``: anything else set away from its default is an error that names the options.
    ``switched_off`` names the SWITCHES given as ``--no-X``, which equal their default and so cannot be seen in ``config``."""
    plain = RunConfig()
    changed = [
        f.name
        for part in ("data", "model", "objective")
        for f in fields(getattr(config, part))
        if getattr(getattr(config, part), f.name) != getattr(getattr(plain, part), f.name)
    ]
    changed += [
        f.name for f in fields(config.train) if f.name not in RESUMABLE and getattr(config.train, f.name) != getattr(plain.train, f.name)
    ]
    changed += [name for name, value in (("out", out), ("preset", config.preset)) if value is not None]
    if changed:
        names = {"kind": "model", "name": "data"}  # config fields whose flag has another name
        flags = ", ".join("--" + names.get(n, n).replace("_", "-") for n in changed)
        raise ConfigError(
            f"--resume continues a run with its saved configuration; drop {flags} "
            "(only --epochs, --device, --progress, --compile, --tensorboard, --mlflow may be given)"
        )
    changes = {k: getattr(config.train, k) for k in RESUMABLE if getattr(config.train, k) != getattr(plain.train, k)}
    return changes | {name: False for name in switched_off if name in SWITCHES}


def train_or_resume(
    data: DataConfig = DataConfig(),
    model: ModelConfig = ModelConfig(),
    objective: ObjectiveConfig = ObjectiveConfig(),
    train_config: TrainConfig = TrainConfig(),
    preset: str | None = None,
    out: Path | None = None,
    resume_dir: Annotated[Path | None, tyro.conf.arg(name="resume")] = None,
    images: bool = True,
    echo: Echo | None = None,
    switched_off: tuple[str, ...] = (),
) -> TrainResult:
    """Train a model and write a run directory (config, weights, metrics, images).

    Args:
        data: which data to train and evaluate on.
        model: the network: family, sizes and decoder likelihood.
        objective: weights of the objective's terms and their schedules.
        train_config: the optimisation loop.
        preset: Named configuration (seed-ae, seed-vae, binarized-vae, binarized-iwae; see `vaekit list`); other options
            override its values.
        out: Run directory to create (default: runs/<model>-<data>-<time>).
        resume_dir: Continue this run directory where it stopped (with --epochs for a new total).
        images: Write sample and reconstruction grids to RUN/images/ during training.
        echo: where progress and notes are printed.
        switched_off: with ``resume_dir``: the flags among compile, tensorboard, mlflow given as --no-X (the CLI fills it).
    """
    config = RunConfig(data, model, objective, train_config, preset)
    if resume_dir is not None:
        return resume(resume_dir, images=images, echo=echo, **resume_overrides(config, out, switched_off))
    return train(config, out, images=images, echo=echo)


def next_steps(result: TrainResult) -> list[str]:
    """Commands to try on a finished run (evaluate, sample, report)."""
    run = result.run_dir
    model = read_run_config(run).model
    steps = [f"vaekit evaluate {run}"]
    if (
        MODELS[model.kind].objective not in ("reconstruction", "sparse", "contractive")
        and model.input_shape
        and len(model.input_shape) == 3
    ):
        steps.append(f"vaekit sample {run} --out {run}/samples.png")
    return [*steps, f"vaekit report {run}"]
