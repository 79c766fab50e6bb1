"""The README's picture of fitted samplers: the same VAE's samples from its N(0, I) prior, from a
Gaussian mixture fitted to its training codes, from a masked autoregressive flow and from a second
VAE on the codes (two-stage), each
titled with the Fréchet distance, precision and recall that `vaekit evaluate --fid` measured.

    vaekit train --model vae --data fashion-mnist --epochs 10 --latent-dim 16 --out runs/fm
    python docs/make_sampler_pictures.py runs/fm        # fits the three samplers (about 3 minutes), evaluates, draws

Writes docs/images/fashion_samplers.png and prints the table the README quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from vaekit import run
from vaekit.cli import main
from vaekit.generation import grid, sample

IMAGES = Path(__file__).resolve().parent / "images"
SAMPLERS = ("prior", "gmm", "flow", "two-stage")


def vaekit(*argv) -> str:
    """Run a vaekit command; its stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"vaekit {' '.join(map(str, argv))} failed with status {code}")
    return out.getvalue()


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args()
    vaekit("fit-sampler", args.run_dir, "--sampler", "gmm", "--components", 10)
    vaekit("fit-sampler", args.run_dir, "--sampler", "flow", "--epochs", 20)
    vaekit("fit-sampler", args.run_dir, "--sampler", "two-stage", "--epochs", 20)
    model = run.load(args.run_dir)
    panels, rows = [], []
    for name in SAMPLERS:
        report = json.loads(vaekit("evaluate", args.run_dir, "--fid", "--sampler", name, "--iw-samples", 1, "--json"))
        fitted = None if name == "prior" else run.load_sampler(args.run_dir, name, model.latent_dim)
        images = sample(model, 48, torch.Generator().manual_seed(0), sampler=fitted)  # (48, C, H, W)
        picture = Image.fromarray(grid(images, nrow=8)).convert("RGB")
        title = f"{name}: FD {report['frechet_distance']:.1f}, precision {report['precision']:.2f}, recall {report['recall']:.2f}"
        canvas = Image.new("RGB", (picture.width, picture.height + 18), "white")
        canvas.paste(picture, (0, 18))
        ImageDraw.Draw(canvas).text((2, 3), title, fill="black")
        panels.append(canvas)
        rows.append(f"| {name} | {report['frechet_distance']:.2f} | {report['precision']:.3f} | {report['recall']:.3f} |")
    out = Image.new("RGB", (sum(p.width for p in panels) + 10 * (len(panels) - 1), panels[0].height), "white")
    for i, panel in enumerate(panels):
        out.paste(panel, (i * (panel.width + 10), 0))
    IMAGES.mkdir(exist_ok=True)
    out.save(IMAGES / "fashion_samplers.png")
    print("| sampler | FD | precision | recall |\n|---|---:|---:|---:|\n" + "\n".join(rows))


if __name__ == "__main__":
    main_()
