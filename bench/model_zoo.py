"""Benchmark: every registered model family on MNIST after the same training budget.

Each family trains the same 784-400-20 MLP (Bernoulli decoder on grey-level MNIST, Adam 1e-3,
batch 128) for the same number of epochs on the default 50k/10k split, with the family's own
defaults (β = 4, K = 5, ...). Then it is evaluated on the 10k test images. Prints a Markdown
table; the README's model table is copied from its output.

    python bench/model_zoo.py --data-dir ../shared/data [--epochs 5] [--iw-samples 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

import vaekit
from vaekit.models import MODELS, resolve_model_config


def _fmt(value, digits=2):
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--iw-samples", type=int, default=100)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--flow", default="none", help="a posterior flow for the families that take one (planar, radial, iaf)")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; MNIST (grey-level), {args.epochs} epochs, "
        f"784-400-20 MLP, test split, K = {args.iw_samples}\n"
    )
    print("| model | objective | test -ELBO | test -log p(x) | bits/dim | KL | recon. NLL | MSE | active units | train s | train ex/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            model = dataclasses.replace(resolve_model_config(name), hidden=(400,), latent_dim=20, likelihood="bernoulli")
            if args.flow != "none" and "flow" in MODELS[name].options:
                model = dataclasses.replace(model, flow=args.flow)
            config = vaekit.RunConfig(
                data=vaekit.DataConfig(name="mnist", data_dir=args.data_dir),
                model=model,
                objective=vaekit.ObjectiveConfig(**MODELS[name].objective_defaults),
                train=vaekit.TrainConfig(epochs=args.epochs, progress=False),
            )
            out = Path(tmp) / name
            started = time.perf_counter()
            result = vaekit.train(config, out, images=False)
            train_s = time.perf_counter() - started
            r = vaekit.evaluate_run(out, iw_samples=args.iw_samples, data_dir=args.data_dir)
            label = name if model.flow == "none" else f"{name} + {model.flow}"
            elbo = None if r.elbo is None else -r.elbo
            print(
                f"| {label} | {MODELS[name].objective} | {_fmt(elbo)} | {_fmt(r.nll)} | {_fmt(r.bits_per_dim, 4)} | {_fmt(r.kl)} "
                f"| {_fmt(r.reconstruction_nll)} | {_fmt(r.mse, 4)} | {_fmt(r.active_units)} | {train_s:.0f} "
                f"| {50_000 * args.epochs / result.progress.elapsed_s:,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
