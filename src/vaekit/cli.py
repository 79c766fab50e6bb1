"""The ``vaekit`` command: parses arguments (tyro, from the config dataclasses), calls library
functions, prints. No logic of its own.

A ``VaekitError`` is printed on one line with exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from vaekit import experiment
from vaekit.data import DATASETS, DataConfig
from vaekit.errors import ConfigError, VaekitError
from vaekit.models import MODELS, PRESETS, ModelConfig, resolve_model_config
from vaekit.objectives import ObjectiveConfig
from vaekit.training import TrainConfig

Flat = tyro.conf.OmitArgPrefixes
Device = Literal["auto", "cpu", "cuda", "mps"]
Weights = Literal["best", "last"]


@dataclass(frozen=True)
class TrainArgs:
    """Train a model and write a run directory (config, weights, metrics, images)."""

    data: Annotated[DataConfig, Flat] = DataConfig()
    model: Annotated[ModelConfig, Flat] = ModelConfig()
    objective: Annotated[ObjectiveConfig, Flat] = ObjectiveConfig()
    train: Annotated[TrainConfig, Flat] = TrainConfig()
    preset: str | None = None
    """Named model configuration (seed-ae, seed-vae); other options override its values."""
    out: Path | None = None
    """Run directory to create (default: runs/<model>-<data>-<time>)."""
    resume: Path | None = None
    """Continue this run directory where it stopped (with --epochs for a new total)."""
    images: bool = True
    """Write sample and reconstruction grids to RUN/images/ during training."""


@dataclass(frozen=True)
class EvaluateArgs:
    """Report ELBO, reconstruction, KL, importance-weighted log p(x), bits/dim and active units."""

    run_dir: tyro.conf.Positional[Path]
    split: Literal["test", "valid", "train"] = "test"
    """Which split to evaluate."""
    iw_samples: int = 1000
    """K, importance samples per example for log p(x) (Burda et al. 2016)."""
    limit: int | None = None
    """Evaluate only the first N examples of the split."""
    json: bool = False
    """Print exactly one JSON object instead of a table."""
    seed: int = 0
    """Seed of the posterior samples."""
    data_dir: Path | None = None
    """Look for the run's dataset here first."""
    weights: Weights = "best"
    """best (best validation loss) or last."""
    device: Device = "auto"
    """Where to evaluate."""


@dataclass(frozen=True)
class SampleArgs:
    """Decode samples of the prior into a PNG grid."""

    run_dir: tyro.conf.Positional[Path]
    out: Path
    """PNG file to write."""
    n: int = 64
    """Number of samples."""
    temperature: float = 1.0
    """Scale of the prior's standard deviation (below 1: more typical samples)."""
    seed: int = 0
    """Seed of the prior samples."""
    weights: Weights = "best"
    """best or last."""
    label: int | None = None
    """cvae: the class to generate (default: the classes in turn)."""
    data_dir: Path | None = None
    """Look for the run's dataset here first (attribute-conditioned models read conditions from it)."""


@dataclass(frozen=True)
class ReconstructArgs:
    """Write a PNG of test examples (rows of originals above rows of reconstructions)."""

    run_dir: tyro.conf.Positional[Path]
    out: Path
    """PNG file to write."""
    n: int = 32
    """Number of examples."""
    split: Literal["test", "valid", "train"] = "test"
    """Split the examples come from."""
    data_dir: Path | None = None
    """Look for the run's dataset here first."""
    weights: Weights = "best"
    """best or last."""


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"--{name} must be at least 1, got {value}")


def _train_defaults(argv: list[str]) -> TrainArgs:
    """Pre-read --model / --preset so the preset's values become the defaults tyro shows."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model")
    pre.add_argument("--preset")
    known, _ = pre.parse_known_args(argv)
    model = resolve_model_config(known.model, known.preset)
    return TrainArgs(model=model, objective=ObjectiveConfig(**MODELS[model.kind].objective_defaults), preset=known.preset)


RESUMABLE = {"epochs", "device", "progress"}
FLAG_NAMES = {"kind": "model", "name": "data"}  # config fields whose flag has another name


def _resume_overrides(args: TrainArgs, defaults: TrainArgs) -> dict[str, object]:
    """On --resume only --epochs/--device/--progress may change; anything else is an error."""
    changed = [f.name for part in ("data", "model", "objective") for f in dataclasses.fields(getattr(args, part))
               if getattr(getattr(args, part), f.name) != getattr(getattr(defaults, part), f.name)]
    changed += [f.name for f in dataclasses.fields(args.train)
                if f.name not in RESUMABLE and getattr(args.train, f.name) != getattr(defaults.train, f.name)]
    if args.out is not None or args.preset is not None:
        changed.append("out" if args.out is not None else "preset")
    if changed:
        flags = ", ".join("--" + FLAG_NAMES.get(n, n).replace("_", "-") for n in changed)
        raise ConfigError(f"--resume continues a run with its saved configuration; drop {flags} (only --epochs, --device, --progress may be given)")
    return {k: getattr(args.train, k) for k in RESUMABLE if getattr(args.train, k) != getattr(defaults.train, k)}


def cmd_train(argv: list[str]) -> int:
    defaults = _train_defaults(argv)
    args = tyro.cli(TrainArgs, args=argv, default=defaults, prog="vaekit train")
    if args.resume is not None:
        overrides = _resume_overrides(args, TrainArgs())  # plain defaults: --model/--preset count as changes
        result = experiment.resume(args.resume, images=args.images, echo=_echo, **overrides)
    else:
        config = experiment.RunConfig(args.data, args.model, args.objective, args.train, args.preset)
        result = experiment.train(config, args.out, images=args.images, echo=_echo)
    p = result.progress
    if result.interrupted:
        _echo(f"stopped at epoch {p.epoch + 1} step {p.step_in_epoch}; checkpoint saved. Continue with: vaekit train --resume {result.run_dir}")
        return 130
    metrics = result.last_metrics
    summary = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k.startswith(("train_loss", "valid_loss")))
    _echo(f"done: {p.epoch} epochs in {p.elapsed_s:.1f}s ({summary}); best validation loss {p.best_valid:.3f} nats at epoch {p.best_epoch}")
    print(result.run_dir)
    return 0


def cmd_evaluate(argv: list[str]) -> int:
    args = tyro.cli(EvaluateArgs, args=argv, prog="vaekit evaluate")
    _positive("iw-samples", args.iw_samples)
    _positive("limit", args.limit)
    report = experiment.evaluate_run(args.run_dir, args.split, args.iw_samples, args.limit, args.seed, args.data_dir, args.weights, args.device)
    values = report.as_dict()
    if args.json:
        print(json.dumps(values))
        return 0
    for key, value in values.items():
        shown = f"{value:.4f}" if isinstance(value, float) else "n/a (no prior: reconstruction only)" if value is None else value
        print(f"{key:<20} {shown}")
    return 0


def cmd_sample(argv: list[str]) -> int:
    args = tyro.cli(SampleArgs, args=argv, prog="vaekit sample")
    _positive("n", args.n)
    if not args.temperature >= 0:
        raise ConfigError(f"--temperature must be 0 or more, got {args.temperature}")
    print(experiment.sample_run(args.run_dir, args.out, args.n, args.temperature, args.seed, args.weights, args.label, args.data_dir))
    return 0


def cmd_reconstruct(argv: list[str]) -> int:
    args = tyro.cli(ReconstructArgs, args=argv, prog="vaekit reconstruct")
    _positive("n", args.n)
    print(experiment.reconstruct_run(args.run_dir, args.out, args.n, args.split, args.data_dir, args.weights))
    return 0


def cmd_list(argv: list[str]) -> int:
    """Print the registered datasets, models and presets."""
    for title, registry in (("datasets", DATASETS), ("models", MODELS), ("presets", PRESETS)):
        print(f"{title}:")
        for name, entry in registry.items():
            print(f"  {name:<18} {entry.description}")
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "sample": cmd_sample,
    "reconstruct": cmd_reconstruct,
    "list": cmd_list,
}

USAGE = """usage: vaekit [--debug] COMMAND [OPTIONS]

commands:
  train        train a model (no options: a VAE on the embedded digits data)
  evaluate     ELBO, importance-weighted log p(x), bits/dim, active units of a run
  sample       decode samples of the prior into a PNG grid
  reconstruct  originals above their reconstructions, as a PNG grid
  list         the registered datasets, models and presets

Run `vaekit COMMAND --help` for a command's options. --debug shows tracebacks."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("VAEKIT_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"vaekit: error: unknown command '{argv[0]}'; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return command(argv[1:])
    except VaekitError as e:
        if debug:
            raise
        print(f"vaekit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vaekit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
