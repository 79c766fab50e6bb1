"""Make the README's pictures: every command run on real MNIST models, written to docs/images/.

    python docs/make_pictures.py --data-dir ../shared/data

Trains the seed's VAE (20-D latent) and a 2-D-latent VAE for 10 epochs each (about a minute on
2 CPU cores), then runs sample, reconstruct, interpolate, traverse, attribute, encode + decode
and latent-map on them, exactly as the README shows. With Debian's chromium installed, it also
renders `vaekit report` headless to a screenshot. Then a cvae (784-400-4, conditioned on
the label) for 10 epochs, for its analogies and a class-to-class interpolation.
`--only cvae` makes those two pictures alone.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from vaekit.cli import main

IMAGES = Path(__file__).resolve().parent / "images"


def vaekit(*argv) -> None:
    code = main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"vaekit {' '.join(map(str, argv))} failed with status {code}")


def make(data_dir: Path, only: str | None = None) -> None:
    IMAGES.mkdir(exist_ok=True)
    if only in (None, "vae"):
        make_vae(data_dir)
    if only in (None, "cvae"):
        make_cvae(data_dir)


def make_cvae(data_dir: Path) -> None:
    """A cvae's what-ifs: each test digit's code (its style) decoded as every class, and a path from
    one digit to another that moves the class along with the code."""
    d = ["--data-dir", data_dir]
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "cvae"
        vaekit(
            "train",
            "--model",
            "cvae",
            "--hidden",
            400,
            "--latent-dim",
            4,  # with the seed's 20 the code still carries much of the class, and the analogies keep the input's digit
            "--data",
            "mnist",
            *d,
            "--epochs",
            10,
            "--no-progress",
            "--no-images",
            "--out",
            run,
        )
        vaekit("reconstruct", run, "--n", 6, "--label", "all", *d, "--out", IMAGES / "cvae_analogies.png")
        vaekit("interpolate", run, "--a", 0, "--b", 1, "--steps", 9, *d, "--out", IMAGES / "cvae_interpolate.png")


def make_vae(data_dir: Path) -> None:
    d = ["--data-dir", data_dir]
    with tempfile.TemporaryDirectory() as tmp:
        run, flat = Path(tmp) / "seed-vae", Path(tmp) / "vae-2d"
        vaekit("train", "--preset", "seed-vae", "--data", "mnist", *d, "--epochs", 10, "--no-progress", "--no-images", "--out", run)
        vaekit("train", "--data", "mnist", *d, "--latent-dim", 2, "--epochs", 10, "--no-progress", "--no-images", "--out", flat)
        vaekit("sample", run, "--n", 32, "--out", IMAGES / "sample.png")
        vaekit("reconstruct", run, "--n", 16, *d, "--out", IMAGES / "reconstruct.png")
        vaekit(
            "interpolate",
            run,
            "--a",
            0,
            "--b",
            1,
            "--steps",
            7,
            "--method",
            "slerp",
            "--extrapolate",
            0.34,
            *d,
            "--out",
            IMAGES / "interpolate.png",
        )
        vaekit("traverse", run, "--top", 5, "--steps", 9, *d, "--out", IMAGES / "traverse.png")
        vaekit(
            "attribute", run, "--attribute", "label=7", "--against", "label=1", "--inputs", "1,2,3", *d, "--out", IMAGES / "attribute.png"
        )
        vaekit("encode", run, "--limit", 16, *d, "--out", Path(tmp) / "latents.npz")
        vaekit("decode", run, Path(tmp) / "latents.npz", "--out", IMAGES / "decode.png")
        vaekit("latent-map", flat, "--limit", 2000, *d, "--out", IMAGES / "latent_map.png")
        vaekit("report", run, *d)
        screenshot(run / "report.html", IMAGES / "report.png", Path(tmp))


def screenshot(page: Path, out: Path, tmp: Path) -> None:
    """The top of a report page, as Chromium renders it, at half size with a 256-colour palette."""
    browser = shutil.which("chromium")
    if browser is None:
        print("chromium not found (apt-get install chromium): skipping the report screenshot")
        return
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'chromium'}",
    ]
    raw = tmp / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1000,1900", f"--screenshot={raw}", page.as_uri()], check=True, capture_output=True, timeout=120
    )
    image = Image.open(raw).convert("RGB")
    image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS).quantize(colors=256).save(out, optimize=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--only", choices=["vae", "cvae"], help="make only the pictures of these runs")
    args = parser.parse_args()
    make(args.data_dir, args.only)
