"""The ``vaekit`` command: every subcommand is generated from a ``vaekit.commands`` function's
signature and docstring (tyro), so an option is defined once, where the library defines it. This
module parses, calls and prints; it has no logic of its own.

A ``VaekitError`` (and any parse error) is printed on one line with exit status 2, a warning on one
line; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import inspect
import io
import json
import os
import re
import sys
import textwrap
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Annotated, Any

import tyro

from vaekit import commands
from vaekit.commands.fit import next_steps
from vaekit.commands.runconfig import preset_run_config
from vaekit.data import DATASETS, PREFIXES, DataConfig, prefixed_names
from vaekit.errors import VaekitError
from vaekit.evaluation import UNITS, Report
from vaekit.models import MODELS, PRESETS, ModelConfig
from vaekit.models.registry import FAMILY_OPTIONS
from vaekit.objectives import READS, ObjectiveConfig
from vaekit.objectives.registry import ADVERSARIAL_OPTIONS
from vaekit.runtime import distributed
from vaekit.runtime.allocator import tune_allocator
from vaekit.serve.command import serve_run
from vaekit.training import TrainConfig, TrainResult

SUPPRESSED = tyro.conf.Suppress[int].__metadata__[0]
RUN_METAVAR = {"run_dir": "RUN", "latents": "LATENTS.npz", "config": "CONFIG.toml"}


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- parsing


class UsageError(VaekitError):
    """The command line does not parse (an unknown option, a missing argument, a bad value)."""


def _hint(help_text: str) -> Any:
    """tyro's '(default: X)' suffix, except where the help already says what the default is."""
    return tyro.conf.arg(help=help_text, help_behavior_hint="" if "default" in help_text else None)


def _param_docs(fn: Callable) -> dict[str, str]:
    """The Args section of a Google-style docstring: parameter name -> its text on one line."""
    docs, name = {}, None
    lines = inspect.getdoc(fn).splitlines()
    inside = False
    for line in lines:
        if line.strip() in ("Args:", "Arguments:"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        match = re.match(r"^    (\w+):\s*(.*)$", line) if inside else None
        if match:
            name = match.group(1)
            docs[name] = match.group(2)
        elif inside and name and line.strip():
            docs[name] += " " + line.strip()
    return docs


def _summary(fn: Callable) -> str:
    return inspect.getdoc(fn).split("\n\n")[0].replace("\n", " ")


def _cli_function(
    fn: Callable, hidden: set[str], extra: dict[str, tuple[Any, Any, str]], defaults: dict[str, Any] | None = None
) -> Callable:
    """A function tyro can build a subcommand from: ``fn``'s parameters (less ``hidden``) with their
    docstring help, plus CLI-only ``extra`` options {name: (type, default, help)}. Calling it returns
    the parsed values instead of running anything."""
    hints = typing.get_type_hints(fn, include_extras=True)
    docs, defaults = _param_docs(fn), defaults or {}
    params = []
    for p in inspect.signature(fn).parameters.values():
        if p.name in hidden:
            continue
        markers = [_hint(docs.get(p.name, ""))]
        if p.name in RUN_METAVAR:
            markers.append(tyro.conf.arg(metavar=RUN_METAVAR[p.name]))
        params.append(p.replace(annotation=Annotated[(hints[p.name], *markers)], default=defaults.get(p.name, p.default)))
    for name, (kind, default, text) in extra.items():
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, _hint(text)]))
    signature = inspect.Signature(params)

    def collect(*args: Any, **kwargs: Any) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    collect.__signature__ = signature
    collect.__annotations__ = {p.name: p.annotation for p in params}
    collect.__doc__ = _summary(fn)
    return collect


REWORDED = [  # tyro's wording -> ours
    (r"^Error parsing (\S+): ", r"\1: "),
    (r"no type matching (\S+) could be instantiated from \[(.*)\]\.?", r"cannot read \2 as \1"),
    (r"invalid literal for int\(\) with base 10: ('.*')", r"\1 is not an integer"),
    (r"could not convert string to float: ('.*')", r"\1 is not a number"),
    (r"Could not find valid parse for arguments: \[(.*)\]", r"cannot read \1"),
    (r"^Unrecognized options:", "unrecognized option(s):"),
]


def _box(text: str) -> tuple[str, list[list[str]]]:
    """The title and sections (between rules) of tyro's error box, drawn in UTF-8 or ASCII."""
    lines = [line.rstrip() for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines() if line.strip()]
    if not lines:
        return "", []
    if lines[0].lstrip().startswith("╭"):
        title = lines[0].strip().strip("╭╮─ ")
        body = [ln.strip()[1:-1].rstrip()[1:] for ln in lines[1:] if ln.strip().startswith("│")]
    else:  # no UTF-8 on stdout: the title, a line of dashes, then contents indented by two
        title, body = lines[0].strip(), [ln[2:] for ln in lines[2:]]
    sections: list[list[str]] = [[]]
    for line in body:
        if set(line.strip()) <= {"─", "-"}:
            sections.append([])
        else:
            sections[-1].append(line)
    return title, sections


def _one_line(text: str, prog: str) -> str:
    """tyro's boxed parse error as one line: its first section, and a 'did you mean' when it has one."""
    title, sections = _box(text)
    first = sections[0] if sections else []
    if title == "Required options":
        names = [ln.strip() for ln in first if ln.startswith("    ") and not ln.startswith("     ")]
        message = f"missing {', '.join(names) or 'a required argument'}"
    else:
        message = " ".join(ln.strip() for ln in first).split(" Got errors:")[0]
        for pattern, replacement in REWORDED:
            message = re.sub(pattern, replacement, message)
    guesses = next((sec for sec in sections[1:] if sec and sec[0].startswith("Perhaps you meant")), None)
    if guesses:
        flags = [ln.split()[0] for ln in guesses[1:] if ln.startswith("    ") and ln.strip().startswith("-")]
        message += f"; did you mean {' or '.join(dict.fromkeys(flags))}?" if flags else ""
    return f"{message or title or 'cannot parse the command line'} (see {prog} --help)"


def _parse(fn: Callable, argv: list[str], prog: str, description: str | None = None) -> Any:
    """tyro's parse of ``argv`` for ``fn``; a parse error becomes a one-line UsageError."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return tyro.cli(fn, args=argv, prog=prog, description=description)
    except SystemExit as e:
        if e.code in (0, None):  # --help, printed to stdout
            raise
        raise UsageError(_one_line(captured.getvalue(), prog)) from None


# ------------------------------------------------------------------- train: options grouped by family


@functools.cache
def _field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string under each field), on one line each."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


ANY_FAMILY = ADVERSARIAL_OPTIONS - {"critic_lr"}  # objective options every family reads


def _families_of(name: str, part: str) -> tuple[str, ...]:
    """The families that read a family-specific option (() for options every family reads)."""
    if part == "model":
        return tuple(k for k, spec in MODELS.items() if name in spec.options) if name in FAMILY_OPTIONS else ()
    if part == "objective":
        if name in ANY_FAMILY:
            return ()
        return tuple(k for k, spec in MODELS.items() if name in READS[spec.objective])
    return ()


@dataclass(frozen=True)
class _Group:
    title: str
    description: str
    families: tuple[str, ...] = ()  # () for the common options
    members: list[tuple[str, str]] = field(default_factory=list)  # (config part, field name)


def _groups() -> list[_Group]:
    """Common options first (data, model, training), then one group per set of families."""
    groups = {
        "data": _Group("data", "Which data to train and evaluate on."),
        "model": _Group("model", "The network: family, sizes and decoder likelihood."),
        "train": _Group("training", "The optimisation loop."),
        "objective": _Group("adversarial term", "A PatchGAN discriminator's loss added to any family's (--adversarial patch)."),
    }
    by_families: dict[tuple[str, ...], _Group] = {}
    for part, cls in (("data", DataConfig), ("model", ModelConfig), ("objective", ObjectiveConfig), ("train", TrainConfig)):
        for f in fields(cls):
            if SUPPRESSED in getattr(typing.get_type_hints(cls, include_extras=True)[f.name], "__metadata__", ()):
                continue
            families = _families_of(f.name, part)
            if not families:
                groups[part].members.append((part, f.name))
                continue
            title = ", ".join(families)
            group = by_families.setdefault(families, _Group(title, f"Read by --model {' / '.join(families)} only.", families))
            group.members.append((part, f.name))
    order = list(MODELS)
    return [*groups.values(), *sorted(by_families.values(), key=lambda g: (order.index(g.families[0]), -len(g.families)))]


def _group_class(index: int, group: _Group, parts: dict[str, Any]) -> type:
    """A dataclass of one option group: each member keeps its config field's type, markers, help and default."""
    members = []
    for part, name in group.members:
        cls = type(parts[part])
        hint = typing.get_type_hints(cls, include_extras=True)[name]
        markers = (*getattr(hint, "__metadata__", ()), _hint(_field_docs(cls).get(name, "")))
        base = typing.get_args(hint)[0] if hasattr(hint, "__metadata__") else hint
        members.append((name, Annotated[(base, *markers)], field(default=getattr(parts[part], name))))
    made = make_dataclass(f"Group{index}", members, frozen=True)
    made.__doc__ = group.description
    return made


def _train_parser(defaults: commands.RunConfig) -> tuple[type, list[_Group]]:
    """A dataclass whose fields are the top-level options and then the option groups of ``vaekit train``,
    defaults from ``defaults``."""
    groups = _groups()
    parts = {"data": defaults.data, "model": defaults.model, "objective": defaults.objective, "train": defaults.train}
    hidden = {"data", "model", "objective", "train_config", "echo", "switched_off"}
    top = _cli_function(commands.train_or_resume, hidden, {}, {"preset": defaults.preset})
    fields_ = [(p.name, p.annotation, field(default=p.default)) for p in inspect.signature(top).parameters.values()]
    for index, group in enumerate(groups):
        cls = _group_class(index, group, parts)
        fields_.append((f"group{index}", Annotated[cls, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name=group.title)], field(default=cls())))
    parser = make_dataclass("TrainCommand", fields_, frozen=True)
    parser.__doc__ = _summary(commands.train_or_resume)
    return parser, groups


def _train_defaults(argv: list[str]) -> commands.RunConfig:
    """The defaults of --model / --preset read ahead, so the preset's values are what --help shows."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--model")
    pre.add_argument("--preset")
    known, _ = pre.parse_known_args(argv)
    return preset_run_config(known.model, known.preset)


def _train_arguments(argv: list[str]) -> dict[str, Any]:
    defaults = _train_defaults(argv)
    parser, groups = _train_parser(defaults)
    parsed = _parse(parser, argv, "vaekit train")
    values = {part: {} for part in ("data", "model", "objective", "train")}
    for index, group in enumerate(groups):
        for part, name in group.members:
            values[part][name] = getattr(getattr(parsed, f"group{index}"), name)
    hidden = {"model": {"condition_dim": defaults.model.condition_dim, "input_shape": defaults.model.input_shape}}
    configs = {
        part: type(getattr(defaults, attr))(**(values[part] | hidden.get(part, {})))
        for part, attr in (("data", "data"), ("model", "model"), ("objective", "objective"), ("train", "train"))
    }
    rest = {f.name: getattr(parsed, f.name) for f in fields(parsed) if not f.name.startswith("group")}
    # A flag that is off by default and turned off on a --resume (--no-mlflow) equals its default, so it is passed by name.
    rest["switched_off"] = tuple(name for name in commands.SWITCHES if f"--no-{name}" in argv)
    return {"data": configs["data"], "model": configs["model"], "objective": configs["objective"], "train_config": configs["train"], **rest}


# --------------------------------------------------------------------------------------- printing


def _show_train(result: TrainResult, options: dict[str, Any]) -> int:
    p, world = result.progress, distributed.current()
    if not world.is_main:  # under torchrun rank 0 reports for all
        return 130 if result.interrupted else 0
    if result.interrupted:
        resume = f"torchrun --nproc_per_node {world.size} -m vaekit train" if world.active else "vaekit train"
        _echo(f"stopped at epoch {p.epoch + 1} step {p.step_in_epoch}; checkpoint saved. Continue with: {resume} --resume {result.run_dir}")
        return 130
    if result.stopped_early:
        _echo(f"stopped early: no better validation loss for {p.epoch - p.best_epoch} epochs (--patience)")
    summary = ", ".join(f"{k} {v:.3f}" for k, v in result.last_metrics.items() if k.startswith(("train_loss", "valid_loss")))
    _echo(f"done: {p.epoch} epochs in {p.elapsed_s:.1f}s ({summary}); best validation loss {p.best_valid:.3f} nats at epoch {p.best_epoch}")
    _echo("next: " + "  |  ".join(next_steps(result)))
    print(result.run_dir)
    return 0


def _table_value(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _show_report(report: Report, options: dict[str, Any]) -> int:
    if not distributed.current().is_main:  # under torchrun rank 0 prints the report
        return 0
    values = report.as_dict()
    if options["json"]:
        print(json.dumps(values))
        return 0
    for key, value in values.items():
        if isinstance(value, dict):  # per-attribute edit scores: one line each
            for name, row in value.items():
                print(f"{key + '.' + name:<24} " + "  ".join(f"{k} {_table_value(v)}" for k, v in row.items() if v is not None))
        elif value is not None:
            print(f"{key:<24} {_table_value(value)} {UNITS.get(key, '')}".rstrip())
    if values["elbo"] is None:
        print("note: this model has no prior, hence no likelihood: reconstruction metrics only")
    return 0


def _show_encoded(result: tuple[Path, float], options: dict[str, Any]) -> int:
    path, ratio = result
    _echo(f"compression ratio {ratio:.1f}:1 (bits of an input / bits of its code)")
    print(path)
    return 0


def _show_path(result: Path, options: dict[str, Any]) -> int:
    print(result)
    return 0


def list_registered() -> None:
    """Print the registered datasets, models and presets."""
    sources = {**DATASETS, **dict(zip(prefixed_names(), PREFIXES.values(), strict=True))}
    for title, registry in (("datasets", sources), ("models", MODELS), ("presets", PRESETS)):
        print(f"{title}:")
        for name, entry in registry.items():
            print(f"  {name:<18} {entry.description}")


@dataclass(frozen=True)
class Command:
    """A subcommand: the library function it calls, how its result is printed, CLI-only options."""

    fn: Callable
    show: Callable[[Any, dict[str, Any]], int] = _show_path
    extra: dict[str, tuple[Any, Any, str]] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset({"echo"})


COMMANDS: dict[str, Command] = {
    "train": Command(commands.train_or_resume, _show_train),
    "evaluate": Command(commands.evaluate_run, _show_report, {"json": (bool, False, "Print exactly one JSON object instead of a table.")}),
    "sample": Command(commands.sample_run),
    "fit-sampler": Command(commands.fit_sampler_run),
    "reconstruct": Command(commands.reconstruct_run),
    "interpolate": Command(commands.interpolate_run),
    "traverse": Command(commands.traverse_run),
    "attribute": Command(commands.attribute_run),
    "encode": Command(commands.encode_run, _show_encoded),
    "decode": Command(commands.decode_run),
    "latent-map": Command(commands.latent_map_run),
    "report": Command(commands.report_run),
    "export": Command(commands.export_run),
    "serve": Command(serve_run, lambda result, options: 0),
    "benchmark": Command(commands.benchmark_run, hidden=frozenset({"echo", "command"})),
    "list": Command(list_registered, lambda result, options: 0),
}

USAGE = """usage: vaekit [--debug] COMMAND [OPTIONS]

commands:
  train        train a model (no options: a VAE on the embedded digits data)
  evaluate     ELBO, importance-weighted log p(x), bits/dim, active units of a run
  sample       decode samples of the prior (or of a fitted sampler) into a PNG grid
  fit-sampler  fit a density (gmm, flow) to the training codes, for sharper samples
  reconstruct  originals above their reconstructions, as a PNG grid
  interpolate  a path in latent space from a to b, extended past both ends
  traverse     vary one latent dimension per row, most informative first
  attribute    edit inputs along an attribute vector (e.g. smiling minus not smiling)
  encode       compress a split to latent codes (.npz)
  decode       decode latent codes back to images
  latent-map   the latent space in 2-D, coloured by label (and the decoded manifold of a 2-D latent)
  report       one self-contained HTML page about a run
  export       the encoder and decoder as ONNX or TorchScript files, checked against vaekit
  serve        explore a run in the browser: sliders, attributes, interpolation, a map, uploads
  benchmark    train and evaluate models x datasets from a TOML file into a Markdown leaderboard
  list         the registered datasets, models and presets

Run `vaekit COMMAND --help` for a command's options. --debug shows tracebacks."""


def parse_command(name: str, argv: list[str]) -> tuple[Command, dict[str, Any], dict[str, Any]]:
    """Subcommand ``name``, the keyword arguments of its function and its CLI-only options, from ``argv``."""
    command = COMMANDS[name]
    if name == "train":
        kwargs = _train_arguments(argv)
    else:
        description = inspect.getdoc(command.fn).split("\n\n")[0]
        kwargs = _parse(_cli_function(command.fn, set(command.hidden), command.extra), argv, f"vaekit {name}", description=description)
    options = {key: kwargs.pop(key) for key in command.extra}
    return command, kwargs, options


def run_command(name: str, argv: list[str]) -> int:
    """Parse ``argv`` for subcommand ``name``, call its function, print its result."""
    command, kwargs, options = parse_command(name, argv)
    hidden = {"echo": _echo, "command": " ".join(["vaekit", name, *argv])}
    accepted = inspect.signature(command.fn).parameters
    result = command.fn(**kwargs, **{k: v for k, v in hidden.items() if k in command.hidden and k in accepted})
    return command.show(result, options)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001, ARG001  (warnings' signature)
    print(f"vaekit: warning: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("VAEKIT_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] not in COMMANDS:
        print(f"vaekit: error: unknown command '{argv[0]}'; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    tune_allocator()  # reuse freed tensor memory instead of faulting in fresh pages (runtime/allocator.py)
    try:
        with warnings.catch_warnings():
            if not debug:
                warnings.showwarning = _show_warning
            status = run_command(argv[0], argv[1:])
        distributed.shutdown(wait=True)  # under torchrun: every rank is done before any leaves
        return status
    except VaekitError as e:
        if debug:
            raise
        print(f"vaekit: error: {' '.join(str(e).split())}", file=sys.stderr)  # one line, whatever the message held
        return 2
    except KeyboardInterrupt:
        print("vaekit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vaekit ... | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not complain either
        return 141
    except (MemoryError, RuntimeError) as e:
        if debug or not isinstance(e, MemoryError) and "allocate" not in str(e):
            raise
        print(f"vaekit: error: out of memory ({str(e).splitlines()[0] if str(e) else 'MemoryError'}); use smaller sizes", file=sys.stderr)
        return 2
    finally:
        distributed.shutdown()  # after an error: leave torchrun's process group without waiting for the others


if __name__ == "__main__":
    sys.exit(main())
