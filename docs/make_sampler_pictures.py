"""The README's picture of fitted samplers: the same VAE's samples from its N(0, I) prior, from a
Gaussian mixture fitted to its training codes, from a masked autoregressive flow and from a second
VAE on the codes (two-stage), each
titled with the Fréchet distance, precision and recall that `vaekit evaluate --fid` measured.

    vaekit train --model vae --data fashion-mnist --epochs 10 --latent-dim 16 --out runs/fm
    python docs/make_sampler_pictures.py runs/fm        # fits the three samplers (about 3 minutes), evaluates, draws
    vaekit train --preset faces-vae --out runs/faces-vae
    python docs/make_sampler_pictures.py runs/faces-vae --samplers prior gmm flow --name faces_samplers.png

Writes docs/images/fashion_samplers.png (or --name) and prints the table the README quotes.
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


def titled(images: torch.Tensor, title: str) -> Image.Image:
    """A grid of images (N, C, H, W), 8 a row, under a line of text."""
    picture = Image.fromarray(grid(images, nrow=8)).convert("RGB")
    canvas = Image.new("RGB", (picture.width, picture.height + 18), "white")
    canvas.paste(picture, (0, 18))
    ImageDraw.Draw(canvas).text((2, 3), title, fill="black")
    return canvas


def side_by_side(panels: list[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (sum(p.width for p in panels) + 10 * (len(panels) - 1), max(p.height for p in panels)), "white")
    for i, panel in enumerate(panels):
        out.paste(panel, (i * (panel.width + 10), 0))
    return out


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    parser.add_argument("--name", default="fashion_samplers.png", help="file name under docs/images")
    args = parser.parse_args()
    fits = {"gmm": ["--components", 10], "flow": ["--epochs", 20], "two-stage": ["--epochs", 20]}
    for name in args.samplers[1:] if args.samplers[0] == "prior" else args.samplers:
        vaekit("fit-sampler", args.run_dir, "--sampler", name, *fits[name])
    model = run.load(args.run_dir)
    panels, rows = [], []
    for name in args.samplers:
        report = json.loads(vaekit("evaluate", args.run_dir, "--fid", "--sampler", name, "--iw-samples", 1, "--json"))
        fitted = None if name == "prior" else run.load_sampler(args.run_dir, name, model.latent_dim)
        images = sample(model, 48, torch.Generator().manual_seed(0), sampler=fitted)  # (48, C, H, W)
        title = f"{name}: FD {report['frechet_distance']:.1f}, precision {report['precision']:.2f}, recall {report['recall']:.2f}"
        panels.append(titled(images, title))
        rows.append(f"| {name} | {report['frechet_distance']:.2f} | {report['precision']:.3f} | {report['recall']:.3f} |")
    IMAGES.mkdir(exist_ok=True)
    side_by_side(panels).save(IMAGES / args.name)
    print("| sampler | FD | precision | recall |\n|---|---:|---:|---:|\n" + "\n".join(rows))


if __name__ == "__main__":
    main_()
