"""``vaekit benchmark``: train and evaluate a matrix of models x datasets from a small TOML file,
and write the results as a Markdown table.

A config names datasets and models; every pair is a cell. Each cell trains into
``OUT/runs/<model>--<data>`` and is evaluated on the test split; its result is appended to
``OUT/results.jsonl`` as soon as it is known, and ``OUT/leaderboard.md`` is rewritten after every
cell. Running the same command again skips finished cells and resumes an interrupted run, so a
long benchmark never loses work. Example::

    title = "vaekit leaderboard"
    epochs = 5             # default epochs of every cell
    iw_samples = 100       # K of the importance-weighted test log-likelihood
    fid = true             # Fréchet distance / precision / recall for models that sample

    [[data]]
    name = "mnist"         # any DataConfig field: limit, valid_size, binarize...
    options = { }          # settings for every model on this data (e.g. arch = "conv")

    [[model]]
    model = "beta-vae"     # a family, or preset = "seed-vae"
    label = "β-VAE (β=4)"  # the row's name (default: the family or preset)
    options = { latent_dim = 10, beta = 4.0 }   # any ModelConfig / ObjectiveConfig / TrainConfig field
    data_options = { faces = { condition = "attributes" } }   # options for this model on one dataset only
    skip = ["binarized-mnist"]   # datasets this model does not apply to (listed under the table)

    [[reference]]          # published numbers, shown beside ours
    data = "binarized-mnist"
    model = "VAE (pythae)"
    nll = 89.78
    source = "pythae reproduction table"
"""

from __future__ import annotations

import dataclasses
import json
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import tyro

from vaekit import run
from vaekit.commands.evaluate import evaluate_run
from vaekit.commands.fit import resume, train
from vaekit.commands.runconfig import RunConfig, preset_run_config, read_run_config
from vaekit.data import DataConfig
from vaekit.data.registry import resolved
from vaekit.errors import ConfigError, VaekitError
from vaekit.models import MODELS, PRESETS
from vaekit.run.config import config_to_dict
from vaekit.run.layout import CONFIG
from vaekit.runtime.checks import at_least, check_fields
from vaekit.runtime.files import atomic_write_bytes, make_dir, read_jsonl, writable_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RESULTS = "results.jsonl"
TABLE = "leaderboard.md"
SETTINGS = {"title", "epochs", "iw_samples", "fid", "fid_samples", "eval_limit", "seed", "data", "model", "reference"}


@dataclass(frozen=True)
class Cell:
    """One model on one dataset: the run it trains and what to evaluate."""

    key: str
    label: str
    data_label: str
    config: RunConfig


@dataclass(frozen=True)
class Benchmark:
    """A parsed config file."""

    title: str
    cells: list[Cell]
    iw_samples: int = 100
    fid: bool = True
    fid_samples: int = 10_000
    eval_limit: int | None = None
    seed: int = 0
    references: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (model label, dataset) pairs the config skips

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("iw_samples", "fid_samples"):
            at_least(name, getattr(self, name), 1)
        if self.eval_limit is not None:
            at_least("eval_limit", self.eval_limit, 1)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _with_options(config: RunConfig, options: dict[str, Any], where: str) -> RunConfig:
    """``config`` with each option set on the part that has a field of that name."""
    parts = {name: getattr(config, name) for name in ("data", "model", "objective", "train")}
    changes: dict[str, dict[str, Any]] = {name: {} for name in parts}
    for key, value in options.items():
        owner = next((name for name, part in parts.items() if key in {f.name for f in dataclasses.fields(part)}), None)
        if owner is None or key in ("input_shape", "condition_dim", "kind", "name"):
            raise ConfigError(f"{where}: unknown option '{key}'; use a field of the data, model, objective or training settings")
        changes[owner][key] = tuple(value) if isinstance(value, list) else value
    return replace(config, **{name: replace(part, **changes[name]) for name, part in parts.items() if changes[name]})


MODEL_KEYS = ("model", "preset", "label", "options", "data_options", "skip")


def _check_model_table(model: dict[str, Any], data_names: list[str], where: str) -> None:
    unknown = set(model) - set(MODEL_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown [[model]] key(s) {sorted(unknown)}; use {', '.join(MODEL_KEYS)}")
    skip, per_data = model.get("skip", []), model.get("data_options", {})
    if not isinstance(skip, list) or not all(isinstance(s, str) for s in skip):
        raise ConfigError(f"{where}: 'skip' of a [[model]] must be a list of dataset names, like skip = [\"binarized-mnist\"]")
    if not isinstance(per_data, dict) or not all(isinstance(v, dict) for v in per_data.values()):
        raise ConfigError(
            f"{where}: 'data_options' of a [[model]] must map dataset names to tables, like {{ faces = {{ latent_dim = 16 }} }}"
        )
    for name in [*skip, *per_data]:
        if name not in data_names:
            raise ConfigError(
                f"{where}: a [[model]] names dataset '{name}', which no [[data]] table has; choose from {', '.join(data_names)}"
            )


def _cell(data: dict[str, Any], model: dict[str, Any], epochs: int | None, where: str) -> Cell:
    if "model" not in model and "preset" not in model:
        raise ConfigError(f"{where}: each [[model]] needs model = FAMILY ({', '.join(MODELS)}) or preset = NAME ({', '.join(PRESETS)})")
    base = preset_run_config(model.get("model"), model.get("preset"))
    data_fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k != "options"}
    config = replace(base, data=DataConfig(**data_fields))
    if epochs is not None:
        config = replace(config, train=replace(config.train, epochs=epochs))
    options = {**data.get("options", {}), **model.get("options", {}), **model.get("data_options", {}).get(data["name"], {})}
    config = _with_options(config, options, where)
    config = replace(config, train=replace(config.train, progress=False))
    label = model.get("label") or model.get("preset") or model["model"]
    return Cell(f"{_slug(label)}--{_slug(config.data.name)}", label, config.data.name, config)


def load_benchmark(path: Path) -> Benchmark:
    """Parse a benchmark config; every name and option is checked before anything trains."""
    try:
        spec = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    unknown = set(spec) - SETTINGS
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {sorted(unknown)}; expected {', '.join(sorted(SETTINGS))}")
    data, models, references = (_tables(spec, key, path) for key in ("data", "model", "reference"))
    if not data or not models:
        raise ConfigError(f"{path}: needs at least one [[data]] and one [[model]] table")
    for ref in references:
        if not all(isinstance(ref.get(k), str) for k in ("data", "model", "source")):
            raise ConfigError(f"{path}: each [[reference]] needs data, model and source strings, got {ref}")
    if not all(isinstance(d.get("name"), str) for d in data):
        raise ConfigError(f"{path}: each [[data]] needs name = DATASET")
    data_names = [d["name"] for d in data]
    for m in models:
        _check_model_table(m, data_names, str(path))
    try:
        cells = [_cell(d, m, spec.get("epochs"), str(path)) for d in data for m in models if d["name"] not in m.get("skip", [])]
    except TypeError as e:  # a wrong field name or type inside a table
        raise ConfigError(f"{path}: {e}") from None
    except VaekitError as e:  # a bad name or value, said by the config class that checked it
        raise ConfigError(e.args[0] if str(path) in str(e) else f"{path}: {e}") from None
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ConfigError(
            f"{path}: two cells share a name ({sorted({k for k in keys if keys.count(k) > 1})}); give the models distinct labels"
        )
    settings = {k: spec[k] for k in ("iw_samples", "fid", "fid_samples", "eval_limit", "seed") if k in spec}
    skipped = [(m.get("label") or m.get("preset") or m["model"], name) for m in models for name in m.get("skip", [])]
    try:
        return Benchmark(spec.get("title", "vaekit benchmark"), cells, references=references, skipped=skipped, **settings)
    except VaekitError as e:
        raise ConfigError(f"{path}: {e}") from None


def _tables(spec: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    """The [[key]] tables of a config (none when absent); anything else there is an error."""
    tables = spec.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: '{key}' must be written as [[{key}]] tables")
    for table in tables:
        if not isinstance(table.get("options", {}), dict):
            raise ConfigError(f"{path}: 'options' of a [[{key}]] must be a table, like options = {{ latent_dim = 10 }}")
        if not isinstance(table.get("label", ""), str):
            raise ConfigError(f"{path}: 'label' of a [[{key}]] must be a string")
    return tables


def _done(out: Path) -> dict[str, dict[str, Any]]:
    rows = read_jsonl(out / RESULTS)  # a line cut by a killed run is skipped (with a warning): that cell runs again
    return {row["key"]: row for row in rows if isinstance(row.get("key"), str)}


def _comparable(config: RunConfig, shape: tuple[int, ...], condition_dim: int) -> dict[str, Any]:
    """A config as saved after training starts ('auto' choices resolved), minus the epochs."""
    model = replace(config.model.for_data(shape, config.preset), condition_dim=condition_dim)
    return config_to_dict(replace(config, data=resolved(config.data), model=model, train=replace(config.train, epochs=None)))


def _train(cell: Cell, run_dir: Path, echo: Callable[[str], None]) -> tuple[float, int]:
    """Train (or finish training) the cell's run; (training seconds, epochs trained)."""
    if (run_dir / CONFIG).exists():
        saved = read_run_config(run_dir)
        shape, condition_dim = saved.model.input_shape, saved.model.condition_dim
        if _comparable(saved, shape, condition_dim) != _comparable(cell.config, shape, condition_dim):
            raise ConfigError(f"{run_dir} holds a run with other settings than this cell's; move it away to train the cell afresh")
        result = resume(run_dir, epochs=cell.config.train.epochs, images=False)
    else:
        result = train(cell.config, run_dir, images=False)
    if result.interrupted:
        raise KeyboardInterrupt
    echo(f"  trained in {result.progress.elapsed_s:.1f}s")
    return result.progress.elapsed_s, result.progress.epoch


def run_cell(bench: Benchmark, cell: Cell, out: Path, echo: Callable[[str], None]) -> dict[str, Any]:
    """Train and evaluate one cell; a failure is recorded in the row, not raised."""
    run_dir = out / "runs" / cell.key
    row: dict[str, Any] = {"key": cell.key, "model": cell.label, "data": cell.data_label, "epochs": cell.config.train.epochs}
    try:
        train_s, epochs = _train(cell, run_dir, echo)
        start = time.perf_counter()
        data = run.load_splits(run_dir)
        examples = min(len(data.train), cell.config.data.limit or len(data.train)) * epochs
        factors = data.test.factors is not None
        report = evaluate_run(
            run_dir,
            "test",
            bench.iw_samples,
            bench.eval_limit,
            bench.seed,
            fid=bench.fid,
            fid_samples=bench.fid_samples,
            disentanglement=factors and not MODELS[cell.config.model.kind].conditional,
        )
        row |= {
            "train_s": round(train_s, 2),
            "examples_per_s": round(examples / max(train_s, 1e-9), 1),
            "eval_s": round(time.perf_counter() - start, 2),
            **report.as_dict(),
        }
    except VaekitError as e:
        row["error"] = str(e)
        echo(f"  failed: {e}")
    return row


def benchmark_run(
    config: tyro.conf.Positional[Path], out: Path = Path("benchmark"), command: str | None = None, echo: Callable[[str], None] | None = None
) -> Path:
    """Train and evaluate every model x dataset of a TOML config; write a Markdown leaderboard.

    Args:
        config: The benchmark's TOML file (see bench/leaderboard.toml).
        out: Directory for the runs, results.jsonl and leaderboard.md; running again skips finished cells.
        command: How the leaderboard says it was made (default: vaekit benchmark CONFIG --out OUT).
        echo: where progress lines are printed.
    """
    bench = load_benchmark(config)
    return run_benchmark(bench, out, command or f"vaekit benchmark {config} --out {out}", echo or (lambda line: None))


def run_benchmark(bench: Benchmark, out: Path, command: str, echo: Callable[[str], None] = lambda s: None) -> Path:
    """Run every cell not yet in ``OUT/results.jsonl`` and write ``OUT/leaderboard.md``."""
    out = Path(out)
    writable_dir(out)
    make_dir(out / "runs")
    done = _done(out)
    for i, cell in enumerate(bench.cells, 1):
        if cell.key in done and "error" not in done[cell.key]:
            continue
        echo(f"[{i}/{len(bench.cells)}] {cell.label} on {cell.data_label}")
        done[cell.key] = run_cell(bench, cell, out, echo)
        atomic_write_bytes(out / RESULTS, "".join(json.dumps(r) + "\n" for r in done.values()).encode())
        atomic_write_bytes(out / TABLE, markdown(bench, list(done.values()), command).encode())
    atomic_write_bytes(out / TABLE, markdown(bench, list(done.values()), command).encode())
    return out / TABLE


COLUMNS = [  # (header, key, format)
    ("−log p(x)", "nll", "{:.2f}"),
    ("−ELBO", "elbo", "{:.2f}"),
    ("bits/dim", "bits_per_dim", "{:.4f}"),
    ("MSE", "mse", "{:.4f}"),
    ("AU", "active_units", "{}"),
    ("FD", "frechet_distance", "{:.2f}"),
    ("prec.", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
]
FACTOR_COLUMNS = [("MIG", "mig", "{:.3f}"), ("DCI-D", "dci_disentanglement", "{:.3f}"), ("FactorVAE", "factor_vae_score", "{:.3f}")]
TIME_COLUMNS = [("train s", "train_s", "{:.0f}"), ("ex/s", "examples_per_s", "{:,.0f}")]


def _cell_text(row: dict[str, Any], key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return "—"
    return fmt.format(-value if key == "elbo" else value)


def _table(bench: Benchmark, data: str, rows: list[dict[str, Any]]) -> list[str]:
    factors = any(r.get("mig") is not None for r in rows)
    columns = COLUMNS + (FACTOR_COLUMNS if factors else []) + TIME_COLUMNS
    lines = [f"### {data}", "", "| model | epochs | " + " | ".join(h for h, _, _ in columns) + " |", "|---|---:|" + "---:|" * len(columns)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['model']} | {row['epochs']} | failed: {row['error']} |" + " |" * (len(columns) - 1))
        else:
            lines.append(f"| {row['model']} | {row['epochs']} | " + " | ".join(_cell_text(row, k, f) for _, k, f in columns) + " |")
    for ref in (r for r in bench.references if r.get("data") == data):
        lines.append(
            f"| *{ref['model']}* (published: {ref['source']}) | {ref.get('epochs', '—')} | "
            + " | ".join(_cell_text(ref, k, f) for _, k, f in columns)
            + " |"
        )
    skipped = [label for label, name in bench.skipped if name == data]
    if skipped:
        lines += ["", f"Not run on {data} (does not apply; `skip` in the config): {', '.join(skipped)}."]
    return lines + [""]


def markdown(bench: Benchmark, rows: list[dict[str, Any]], command: str) -> str:
    """The leaderboard page: how it was made, then one table per dataset in config order."""
    header = [
        f"# {bench.title}",
        "",
        f"Made by `{command}` on {time.strftime('%Y-%m-%d')}: {platform.machine()} {platform.system()}, "
        f"{torch.get_num_threads()} thread(s), Python {platform.python_version()}, torch {torch.__version__}.",
        "",
        f"Test split; −log p(x) is the importance-weighted bound with K = {bench.iw_samples} (an upper bound: the true value "
        "is lower), −ELBO and bits/dim in nats and bits per example and per dimension; AU = active units. FD, precision and "
        "recall compare samples with the test split in the features of a classifier trained on the dataset's training split "
        "(`vaekit evaluate --fid`; not Inception FID, so comparable only within one dataset). MIG, DCI-D and FactorVAE score "
        "the posterior means against the known factors. — means the metric does not apply (autoencoders have no likelihood "
        "or samples). train s is training wall time; ex/s counts training examples per second.",
        "",
    ]
    body: list[str] = []
    order = list(dict.fromkeys(c.data_label for c in bench.cells))
    for data in order:
        body += _table(bench, data, [r for r in rows if r["data"] == data])
    return "\n".join(header + body)
