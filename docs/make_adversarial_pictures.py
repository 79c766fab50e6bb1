"""The README's picture of the adversarial term: prior samples and test reconstructions of the same
faces-vae trained without and with `--adversarial patch`, titled with what bench/adversarial.py
measured (its OUT/adversarial.json).

    OMP_NUM_THREADS=1 python bench/adversarial.py --out runs/adversarial
    python docs/make_adversarial_pictures.py runs/adversarial

Writes docs/images/faces_adversarial.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from make_sampler_pictures import IMAGES, side_by_side, titled

from vaekit import run
from vaekit.generation import interleave_rows, reconstruct, sample


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the --out of bench/adversarial.py")
    args = parser.parse_args()
    measured = json.loads((args.out / "adversarial.json").read_text())
    panels = []
    for name, label in (("without", "the VAE alone"), ("adversarial", "with --adversarial patch")):
        model, r = run.load(args.out / name), measured[name]
        samples = sample(model, 24, torch.Generator().manual_seed(0))  # (24, C, H, W)
        x = run.load_split(args.out / name, "test", limit=8).batch(slice(None))  # (8, C, H, W)
        pictures = torch.cat([samples, interleave_rows(x, reconstruct(model, x), 8)])  # samples, then originals over reconstructions
        panels.append(titled(pictures, f"{label}: FD {r['frechet_distance']:.1f}, recall {r['recall']:.2f}, test SSIM {r['ssim']:.3f}"))
    IMAGES.mkdir(exist_ok=True)
    side_by_side(panels).save(IMAGES / "faces_adversarial.png")


if __name__ == "__main__":
    main_()
