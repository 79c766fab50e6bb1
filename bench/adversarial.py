"""The adversarial term against the same model without it (issue 16's target): same preset, data,
seed and schedule, one run each; `vaekit evaluate --fid` on the test split.

    OMP_NUM_THREADS=1 python bench/adversarial.py --out runs/adversarial          # faces-vae, 6 epochs of 20k faces
    python bench/adversarial.py --out runs/adv-fm --preset '' --data fashion-mnist --arch conv --epochs 10

Prints the table bench/README.md records (Fréchet distance, precision, recall of prior samples;
SSIM, MSE and the likelihood of test reconstructions; training seconds) and writes it as JSON to
OUT/adversarial.json. Runs already trained in OUT are evaluated again, not retrained.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

from vaekit.cli import main


def vaekit(*argv) -> str:
    """Run a vaekit command; its stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"vaekit {' '.join(map(str, argv))} failed with status {code}")
    return out.getvalue()


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/adversarial"))
    parser.add_argument("--preset", default="faces-vae", help="'' for none")
    parser.add_argument("--data", default="faces")
    parser.add_argument("--arch", default=None, help="--arch when no preset gives one")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--weight", type=float, default=0.5, help="--adversarial-weight")
    parser.add_argument("--start", type=int, default=500, help="--adversarial-start (steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iw-samples", type=int, default=5)
    args = parser.parse_args(argv)
    common = ["--data", args.data, "--epochs", args.epochs, "--seed", args.seed, "--no-progress", "--no-images"]
    common += ["--preset", args.preset] if args.preset else []
    common += ["--arch", args.arch] if args.arch else []
    variants = {
        "without": [],
        "adversarial": ["--adversarial", "patch", "--adversarial-weight", args.weight, "--adversarial-start", args.start],
    }
    rows = {}
    for name, extra in variants.items():
        run_dir = args.out / name
        train_s = None
        if not (run_dir / "weights.safetensors").exists():
            start = time.perf_counter()
            vaekit("train", *common, *extra, "--out", run_dir)
            train_s = time.perf_counter() - start
        report = json.loads(vaekit("evaluate", run_dir, "--fid", "--iw-samples", args.iw_samples, "--seed", args.seed, "--json"))
        keep = ("frechet_distance", "precision", "recall", "ssim", "mse", "psnr", "nll", "active_units", "trained_on")
        rows[name] = {k: report[k] for k in keep} | {"train_s": train_s}
        print(name, json.dumps(rows[name]), flush=True)
    (args.out / "adversarial.json").write_text(json.dumps(rows, indent=1))
    a, b = rows["adversarial"], rows["without"]
    print("| trained | FD | precision | recall | SSIM | MSE | −log p(x) | train s |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        t = "—" if r["train_s"] is None else f"{r['train_s']:.0f}"
        print(
            f"| {name} | {r['frechet_distance']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | {r['ssim']:.3f} | "
            f"{r['mse']:.4f} | {r['nll']:.1f} | {t} |"
        )
    ratio, drop = a["frechet_distance"] / b["frechet_distance"], b["ssim"] - a["ssim"]
    print(f"FD ratio {ratio:.2f} (goal <= 0.7), SSIM {-drop:+.3f} (goal: no worse than -0.05)")


if __name__ == "__main__":
    main_()
