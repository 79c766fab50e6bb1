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

from vaekit import benchmark, distributed, experiment, explore, report
from vaekit.allocator import tune_allocator
from vaekit.data import DATASETS, PREFIXES, DataConfig, prefixed_names
from vaekit.errors import ConfigError, VaekitError
from vaekit.models import MODELS, PRESETS, ModelConfig
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
    """Named configuration (seed-ae, seed-vae, binarized-vae, binarized-iwae; see `vaekit list`); other options override its values."""
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
    ood_data: str | None = None
    """Also report ood_auroc: how well the per-example -ELBO tells this dataset's test split (outliers) from the run's."""
    fid: bool = False
    """Also report frechet_distance, precision and recall of samples against the split, in the features of a classifier
    vaekit trains on the dataset's training split and caches (not Inception FID: no pretrained weights offline)."""
    fid_samples: int = 10_000
    """--fid: samples drawn, and examples of the split compared with them (at most the split's size)."""
    disentanglement: bool = False
    """Also report MIG, DCI, SAP, FactorVAE and β-VAE scores against the data's known factors (--data shapes)."""


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


Split = Literal["test", "valid", "train"]


@dataclass(frozen=True)
class InterpolateArgs:
    """Decode a path from a to b (dataset indices or image files), extended past both ends."""

    run_dir: tyro.conf.Positional[Path]
    out: Path
    """PNG file to write (one row)."""
    a: int | None = None
    """Index of the start example in --split."""
    b: int | None = None
    """Index of the end example in --split."""
    a_file: Path | None = None
    """An image file as the start (resized to the model's input)."""
    b_file: Path | None = None
    """An image file as the end."""
    steps: int = 9
    """Points from a to b, both included."""
    method: Literal["lerp", "slerp"] = "lerp"
    """Linear, or spherical (keeps the norm between equal-norm endpoints)."""
    extrapolate: float = 0.0
    """Continue the path this fraction of its length past both ends."""
    split: Split = "test"
    """Split the indices refer to."""
    data_dir: Path | None = None
    """Look for the run's dataset here first."""
    weights: Weights = "best"
    """best or last."""


@dataclass(frozen=True)
class TraverseArgs:
    """One row per latent dimension, set to values in [-range, range]; most informative first."""

    run_dir: tyro.conf.Positional[Path]
    out: Path
    """PNG file to write."""
    dims: str | None = None
    """Comma-separated dimensions, e.g. 0,3,5 (default: the --top dimensions with the largest mean KL)."""
    top: int = 10
    """Without --dims: how many dimensions, most informative first."""
    range: float = 3.0
    """Values from -range to range (prior standard deviations)."""
    steps: int = 9
    """Values per row."""
    input: int | None = None
    """Vary around the posterior mean of this example of --split (default: the prior mean, 0)."""
    input_file: Path | None = None
    """... or of this image file (resized to the model's input)."""
    split: Split = "test"
    """Split for --input and for ordering dimensions by KL."""
    data_dir: Path | None = None
    """Look for the run's dataset here first."""
    weights: Weights = "best"
    """best or last."""


@dataclass(frozen=True)
class AttributeArgs:
    """Edit inputs along an attribute vector: mean code with the attribute minus without it."""

    run_dir: tyro.conf.Positional[Path]
    out: Path
    """PNG file to write (one row per input, one column per strength)."""
    attribute: str
    """label=K, a class name (label=cats), or an attribute of the folder's attribute file (smiling, smiling=0)."""
    against: str | None = None
    """Compare with these examples instead of all without the attribute, e.g. label=1."""
    strength: str = "-2,-1,0,1,2"
    """Comma-separated multiples of the vector to add."""
    inputs: str = "0,1,2"
    """Comma-separated indices of test examples to edit."""
    input_files: str | None = None
    """Comma-separated image files to edit instead of test examples."""
    save_vector: Path | None = None
    """Also save the vector as .npy."""
    data_dir: Path | None = None
    """Look for the run's dataset here first."""
    weights: Weights = "best"
    """best or last."""


@dataclass(frozen=True)
class EncodeArgs:
    """Compress a split to latent codes (.npz with mu, logvar or codes, labels)."""

    run_dir: tyro.conf.Positional[Path]
    out: Path
    """.npz file to write."""
    data: str | None = None
    """Another dataset of the same shape (default: the run's)."""
    split: Split = "test"
    """Which split."""
    data_dir: Path | None = None
    """Look for the dataset here first."""
    limit: int | None = None
    """Only the first N examples."""
    weights: Weights = "best"
    """best or last."""


@dataclass(frozen=True)
class DecodeArgs:
    """Decode the 'mu' rows of a latents .npz (from vaekit encode) to a PNG grid or an .npz of images."""

    run_dir: tyro.conf.Positional[Path]
    latents: tyro.conf.Positional[Path]
    out: Path
    """.png (a grid) or .npz (the images as an array)."""
    weights: Weights = "best"
    """best or last."""


@dataclass(frozen=True)
class LatentMapArgs:
    """Posterior means of a split in 2-D, coloured by label; a 2-D latent also gets its decoded manifold."""

    run_dir: tyro.conf.Positional[Path]
    out: Path
    """PNG file to write."""
    method: Literal["pca", "tsne"] = "pca"
    """How to bring more than 2 dimensions down to 2."""
    split: Split = "test"
    """Which split."""
    limit: int | None = 2000
    """At most this many examples (t-SNE is slow on many points)."""
    data_dir: Path | None = None
    """Look for the run's dataset here first."""
    weights: Weights = "best"
    """best or last."""


@dataclass(frozen=True)
class ReportArgs:
    """Write one self-contained HTML page about a run: curves, metrics, samples, latent tools, config."""

    run_dir: tyro.conf.Positional[Path]
    out: Path | None = None
    """HTML file to write (default: RUN/report.html)."""
    iw_samples: int = 100
    """K for the metrics table."""
    limit: int = 2000
    """Test examples used for the metrics and pictures."""
    data_dir: Path | None = None
    """Look for the run's dataset here first."""


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BenchmarkArgs:
    """Train and evaluate every model x dataset of a TOML config; write a Markdown leaderboard."""

    config: tyro.conf.Positional[Path]
    """The benchmark's TOML file (see bench/leaderboard.toml)."""
    out: Path = Path("benchmark")
    """Directory for the runs, results.jsonl and leaderboard.md; running again skips finished cells."""


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"--{name} must be at least 1, got {value}")


def _train_defaults(argv: list[str]) -> TrainArgs:
    """Pre-read --model / --preset so the preset's values become the defaults tyro shows."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model")
    pre.add_argument("--preset")
    known, _ = pre.parse_known_args(argv)
    config = experiment.preset_run_config(known.model, known.preset)
    return TrainArgs(data=config.data, model=config.model, objective=config.objective, train=config.train, preset=known.preset)


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
    p, world = result.progress, distributed.current()
    if not world.is_main:  # under torchrun rank 0 reports for all
        return 130 if result.interrupted else 0
    if result.interrupted:
        resume = f"torchrun --nproc_per_node {world.size} -m vaekit train" if world.active else "vaekit train"
        _echo(f"stopped at epoch {p.epoch + 1} step {p.step_in_epoch}; checkpoint saved. Continue with: {resume} --resume {result.run_dir}")
        return 130
    if result.stopped_early:
        _echo(f"stopped early: no better validation loss for {result.progress.epoch - p.best_epoch} epochs (--patience)")
    metrics = result.last_metrics
    summary = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k.startswith(("train_loss", "valid_loss")))
    _echo(f"done: {p.epoch} epochs in {p.elapsed_s:.1f}s ({summary}); best validation loss {p.best_valid:.3f} nats at epoch {p.best_epoch}")
    print(result.run_dir)
    return 0


def cmd_evaluate(argv: list[str]) -> int:
    args = tyro.cli(EvaluateArgs, args=argv, prog="vaekit evaluate")
    _positive("iw-samples", args.iw_samples)
    _positive("limit", args.limit)
    _positive("fid-samples", args.fid_samples)
    report = experiment.evaluate_run(args.run_dir, args.split, args.iw_samples, args.limit, args.seed, args.data_dir, args.weights, args.device,
                                     args.ood_data, fid=args.fid, fid_samples=args.fid_samples, disentanglement=args.disentanglement)
    if not distributed.current().is_main:  # under torchrun rank 0 prints the report
        return 0
    values = report.as_dict()
    if args.json:
        print(json.dumps(values))
        return 0
    for key, value in values.items():
        if isinstance(value, list):
            value = " ".join(f"{v:.2f}" for v in value)
        shown = f"{value:.4f}" if isinstance(value, float) else "n/a" if value is None else value
        print(f"{key:<20} {shown}")
    if values["elbo"] is None:
        print("note: this model has no prior, hence no likelihood: reconstruction metrics only")
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


def cmd_interpolate(argv: list[str]) -> int:
    a = tyro.cli(InterpolateArgs, args=argv, prog="vaekit interpolate")
    print(explore.interpolate_run(a.run_dir, a.out, a.a, a.b, a.a_file, a.b_file, a.steps, a.method, a.extrapolate, a.split, a.data_dir, a.weights))
    return 0


def cmd_traverse(argv: list[str]) -> int:
    a = tyro.cli(TraverseArgs, args=argv, prog="vaekit traverse")
    _positive("steps", a.steps)
    _positive("top", a.top)
    print(explore.traverse_run(a.run_dir, a.out, a.dims, a.range, a.steps, a.input, a.split, a.data_dir, a.weights, a.top, a.input_file))
    return 0


def cmd_attribute(argv: list[str]) -> int:
    a = tyro.cli(AttributeArgs, args=argv, prog="vaekit attribute")
    print(explore.attribute_run(a.run_dir, a.out, a.attribute, a.against, a.strength, a.inputs, a.save_vector, a.data_dir, a.weights,
                                a.input_files))
    return 0


def cmd_encode(argv: list[str]) -> int:
    a = tyro.cli(EncodeArgs, args=argv, prog="vaekit encode")
    _positive("limit", a.limit)
    path, ratio = explore.encode_run(a.run_dir, a.out, a.data, a.split, a.data_dir, a.limit, a.weights)
    _echo(f"compression ratio {ratio:.1f}:1 (bits of an input / bits of its code)")
    print(path)
    return 0


def cmd_decode(argv: list[str]) -> int:
    a = tyro.cli(DecodeArgs, args=argv, prog="vaekit decode")
    print(explore.decode_run(a.run_dir, a.latents, a.out, a.weights))
    return 0


def cmd_latent_map(argv: list[str]) -> int:
    a = tyro.cli(LatentMapArgs, args=argv, prog="vaekit latent-map")
    _positive("limit", a.limit)
    print(explore.latent_map_run(a.run_dir, a.out, a.method, a.split, a.limit, a.data_dir, a.weights))
    return 0


def cmd_report(argv: list[str]) -> int:
    a = tyro.cli(ReportArgs, args=argv, prog="vaekit report")
    _positive("iw-samples", a.iw_samples)
    _positive("limit", a.limit)
    print(report.report_run(a.run_dir, a.out, a.iw_samples, a.limit, a.data_dir))
    return 0


def cmd_benchmark(argv: list[str]) -> int:
    args = tyro.cli(BenchmarkArgs, args=argv, prog="vaekit benchmark")
    bench = benchmark.load_benchmark(args.config)
    command = " ".join(["vaekit", "benchmark", *argv])
    print(benchmark.run_benchmark(bench, args.out, command, echo=_echo))
    return 0


def cmd_list(argv: list[str]) -> int:
    """Print the registered datasets, models and presets."""
    sources = {**DATASETS, **dict(zip(prefixed_names(), PREFIXES.values(), strict=True))}
    for title, registry in (("datasets", sources), ("models", MODELS), ("presets", PRESETS)):
        print(f"{title}:")
        for name, entry in registry.items():
            print(f"  {name:<18} {entry.description}")
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "sample": cmd_sample,
    "reconstruct": cmd_reconstruct,
    "interpolate": cmd_interpolate,
    "traverse": cmd_traverse,
    "attribute": cmd_attribute,
    "encode": cmd_encode,
    "decode": cmd_decode,
    "latent-map": cmd_latent_map,
    "report": cmd_report,
    "benchmark": cmd_benchmark,
    "list": cmd_list,
}

USAGE = """usage: vaekit [--debug] COMMAND [OPTIONS]

commands:
  train        train a model (no options: a VAE on the embedded digits data)
  evaluate     ELBO, importance-weighted log p(x), bits/dim, active units of a run
  sample       decode samples of the prior into a PNG grid
  reconstruct  originals above their reconstructions, as a PNG grid
  interpolate  a path in latent space from a to b, extended past both ends
  traverse     vary one latent dimension per row, most informative first
  attribute    edit inputs along an attribute vector (e.g. smiling minus not smiling)
  encode       compress a split to latent codes (.npz)
  decode       decode latent codes back to images
  latent-map   the latent space in 2-D, coloured by label (and the decoded manifold of a 2-D latent)
  report       one self-contained HTML page about a run
  benchmark    train and evaluate models x datasets from a TOML file into a Markdown leaderboard
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
    tune_allocator()  # reuse freed tensor memory instead of faulting in fresh pages (allocator.py)
    try:
        status = command(argv[1:])
        distributed.shutdown(wait=True)  # under torchrun: every rank is done before any leaves
        return status
    except VaekitError as e:
        if debug:
            raise
        print(f"vaekit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vaekit: interrupted", file=sys.stderr)
        return 130
    finally:
        distributed.shutdown()  # after an error: leave torchrun's process group without waiting for the others


if __name__ == "__main__":
    sys.exit(main())
