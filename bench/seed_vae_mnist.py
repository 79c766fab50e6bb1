"""Benchmark: the seed's VAE on MNIST for 10 epochs, then the K=1000 test log-likelihood.

Reproduces the setting of pytorch/examples' VAE (784-400-20, Bernoulli decoder on grey-level
MNIST, Adam 1e-3, batch 128, 10 epochs), once on all 60k training images as that example does and
once with vaekit's default 50k/10k train/validation split. Also times the importance-weighted
evaluation for several chunk sizes. Prints a Markdown table; results are recorded in bench/README.md.

    python bench/seed_vae_mnist.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import vaekit
from vaekit import run as runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--iw-samples", type=int, default=1000)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print(
        f"| train split | epochs | train wall s | train ex/s | test -ELBO | test -log p(x), K={args.iw_samples} "
        "| eval wall s | active units |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for valid_size, label in ((0, "60k (as pytorch/examples)"), (None, "50k (vaekit default)")):
            out = Path(tmp) / f"run-{valid_size}"
            config = vaekit.RunConfig(
                data=vaekit.DataConfig(name="mnist", data_dir=args.data_dir, valid_size=valid_size),
                model=vaekit.PRESETS["seed-vae"].model,
                train=vaekit.TrainConfig(epochs=args.epochs, progress=False),
                preset="seed-vae",
            )
            started = time.perf_counter()
            result = vaekit.train(config, out, images=False)
            train_s = time.perf_counter() - started
            n_train = 60_000 - (10_000 if valid_size is None else valid_size)
            started = time.perf_counter()
            r = vaekit.evaluate_run(out, iw_samples=args.iw_samples, data_dir=args.data_dir)
            eval_s = time.perf_counter() - started
            print(
                f"| {label} | {result.progress.epoch} | {train_s:.1f} | {n_train * args.epochs / result.progress.elapsed_s:,.0f} "
                f"| {-r.elbo:.2f} | {r.nll:.2f} | {eval_s:.1f} | {r.active_units} |",
                flush=True,
            )
        print(f"\nIWAE evaluation chunk size (500 test examples, K={args.iw_samples}, last run):\n")
        print("| max_rows | wall s | log p(x) |")
        print("|---|---|---|")
        model = vaekit.load(out)
        data = runs.load_split(out, "test", args.data_dir, 500)
        for rows in (2048, 4096, 16384, 65536):
            started = time.perf_counter()
            rep = vaekit.evaluate(model, data, iw_samples=args.iw_samples, generator=torch.Generator().manual_seed(0), max_rows=rows)
            print(f"| {rows} | {time.perf_counter() - started:.2f} | {rep.iwae_log_px:.3f} |", flush=True)


if __name__ == "__main__":
    main()
