"""``vaekit report``: one self-contained HTML page about a run (every image embedded).

Training curves, the evaluation metrics, samples, reconstructions, an interpolation, a traversal
and a latent map, with the run's configuration. A section that does not apply to the model (no
prior, a conditional model) says why instead of failing the page.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from pathlib import Path

import torch
import tyro

from vaekit import run
from vaekit.errors import VaekitError
from vaekit.evaluation import UNITS, evaluate
from vaekit.generation import (
    check_output,
    embed_2d,
    figure_png,
    fit_code_prior,
    interleave_rows,
    interpolate,
    kl_order,
    latent_map_figure,
    png_bytes,
    posterior_means,
    reconstruct,
    sample,
    sample_conditions,
    save_text,
    traverse,
)
from vaekit.run.layout import METRICS
from vaekit.runtime.checks import at_least
from vaekit.runtime.files import read_jsonl

STYLE = (
    "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222} img{max-width:100%} "
    "table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right} pre{background:#f6f6f6;padding:1em}"
)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _curves(run_dir: Path) -> bytes | None:
    """Training and validation curves of every logged term, one panel per term."""
    lines = [line for line in read_jsonl(run_dir / METRICS) if isinstance(line.get("epoch"), int)]  # a cut last line is skipped
    if not lines:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    terms = sorted({k.split("_", 1)[1] for line in lines for k in line if k.startswith("train_")})
    fig, axes = plt.subplots(1, len(terms), figsize=(4 * len(terms), 3), squeeze=False)
    epochs = [line["epoch"] for line in lines]
    for ax, term in zip(axes[0], terms, strict=True):
        for split in ("train", "valid"):
            values = [line.get(f"{split}_{term}") for line in lines]
            if any(v is not None for v in values):
                ax.plot(epochs, values, label=split)
        ax.set_title(f"{term} (nats)" if term != "penalty" else term)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    return figure_png(fig)


def _section(title: str, build: Callable[[], str]) -> str:
    try:
        body = build()
    except VaekitError as e:
        body = f"<p><i>not available for this run: {html.escape(str(e))}</i></p>"
    return f"<h2>{html.escape(title)}</h2>\n{body}\n"


def build_report(run_dir: Path, iw_samples: int = 100, limit: int = 2000, data_dir: Path | None = None, seed: int = 0) -> str:
    """The HTML text of the report."""
    run_dir = Path(run_dir)
    config = run.read_config(run_dir)
    model = run.load(run_dir)
    test = run.load_split(run_dir, "test", data_dir, limit)
    g = torch.Generator().manual_seed(seed)
    y = test.condition(slice(0, 16), model.conditioning, model.condition_dim)

    def metrics() -> str:
        report = evaluate(model, test, "test", iw_samples, torch.Generator().manual_seed(seed))

        def cell(v) -> str:
            if isinstance(v, list):
                return " ".join(f"{x:.2f}" for x in v)
            return f"{v:.4f}" if isinstance(v, float) else str(v)

        rows = "".join(  # the metrics that apply to this model (the others are None), as vaekit evaluate prints them
            f"<tr><th>{k}</th><td>{cell(v)}</td><td>{UNITS.get(k, '')}</td></tr>" for k, v in report.as_dict().items() if v is not None
        )
        return (
            f"<table>{rows}</table><p>Per example, the metrics that apply to this model. "
            "<code>vaekit evaluate --fid --disentanglement --edits --ood-data NAME</code> adds sample quality, "
            "disentanglement, edit and OOD scores.</p>"
        )

    def samples() -> str:
        code_prior = fit_code_prior(model, run.load_split(run_dir, "train", data_dir)) if model.codebook_size else None
        condition = sample_conditions(model, 64, examples=test) if model.conditioning else None
        return _img(png_bytes(sample(model, 64, g, condition=condition, code_prior=code_prior), 8), "samples")

    def reconstructions() -> str:
        x = test.batch(slice(0, 16))
        return (
            _img(png_bytes(interleave_rows(x, reconstruct(model, x, y), nrow=8), 8), "reconstructions")
            + "<p>Originals above their reconstructions.</p>"
        )

    def interpolation() -> str:
        ends = None if y is None else (y[0:1], y[1:2])  # a cvae: each end with its own condition, moved from one to the other
        images = interpolate(model, test.batch(slice(0, 1)), test.batch(slice(1, 2)), 9, "slerp", 0.25, conditions=ends)
        return (
            _img(png_bytes(images, images.shape[0]), "interpolation")
            + "<p>Test examples 0 to 1 (slerp), extended by a quarter past both ends.</p>"
        )

    def traversal() -> str:
        dims = kl_order(model, test)[:8]
        condition = None if y is None else y[0:1]  # a cvae decodes the traversal with test example 0's condition
        note = "" if y is None else f", decoded with test example 0's {model.conditioning}"
        return (
            _img(png_bytes(traverse(model, dims, 3.0, 9, condition=condition), 9), "traversal")
            + f"<p>Dimensions {dims}, by mean KL; values -3 to 3{note}.</p>"
        )

    def latent_map() -> str:
        means = posterior_means(model, test).cpu()
        labels = None if test.labels is None else test.labels.cpu()
        return _img(figure_png(latent_map_figure(embed_2d(means, "pca"), labels, "test posterior means (PCA)")), "latent map")

    curves = _curves(run_dir)
    parts = [
        f"<h1>vaekit run: {html.escape(run_dir.name)}</h1>",
        f"<p>{html.escape(str(run_dir.resolve()))}: {html.escape(config['model']['kind'])} on {html.escape(config['data']['name'])}</p>",
        _section("Training curves", lambda: _img(curves, "training curves") if curves else "<p>No epoch finished yet.</p>"),
        _section(f"Test metrics (K = {iw_samples}, first {len(test)} test examples)", metrics),
    ]
    if model.has_prior or model.codebook_size:
        parts.append(_section("Samples", samples))
    parts += [
        _section("Reconstructions", reconstructions),
        _section("Interpolation", interpolation),
        _section("Traversal", traversal),
        _section("Latent map", latent_map),
        f"<h2>Configuration</h2><pre>{html.escape(json.dumps(config, indent=2))}</pre>",
    ]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>vaekit report</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def report_run(
    run_dir: tyro.conf.Positional[Path], out: Path | None = None, iw_samples: int = 100, limit: int = 2000, data_dir: Path | None = None
) -> Path:
    """Write one self-contained HTML page about a run: curves, metrics, samples, latent tools, config.

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: HTML file to write (default: RUN/report.html).
        iw_samples: K for the metrics table.
        limit: Test examples used for the metrics and pictures.
        data_dir: Look for the run's dataset here first.
    """
    at_least("iw_samples", iw_samples, 1)
    at_least("limit", limit, 1)
    run.read_config(run_dir)  # a clear error when it is not a run, before the output is checked
    out = check_output(Path(out) if out is not None else Path(run_dir) / "report.html", None, "pages")
    return save_text(out, build_report(Path(run_dir), iw_samples, limit, data_dir))
