"""Benchmark: how long ``vaekit evaluate --iw-samples 5000`` takes on the full 10,000-image MNIST
test split for each likelihood preset, measured on a slice and scaled up.

The time per example does not depend on the weights, so the models are freshly initialised. Each
preset is timed on ``--examples`` test images (after a warm-up batch) at K = 5000 with the
default chunking (``max_rows`` 4096 latents decoded at once) and with the larger chunks given by
``--max-rows``; the projection is that time x 10,000 / examples.

    python bench/k5000_speed.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import time

import torch

from vaekit.data import DataConfig, load_dataset
from vaekit.evaluation import evaluate
from vaekit.models import PRESETS, build_model

PRESETS_TIMED = ("burda-2layer", "binarized-vae", "binarized-iwae")


def time_preset(name: str, data_dir: str, examples: int, max_rows: int, k: int) -> float:
    """Seconds per test example of evaluate at K = k."""
    preset = PRESETS[name]
    splits = load_dataset(DataConfig(name=preset.data or "binarized-mnist", data_dir=data_dir, **preset.data_options))
    torch.manual_seed(0)
    model = build_model(preset.model.for_data(splits.test.shape))
    evaluate(model, splits.test.head(5), iw_samples=k, generator=torch.Generator().manual_seed(0), max_rows=max_rows)  # warm-up
    part = splits.test.head(examples)
    start = time.perf_counter()
    evaluate(model, part, iw_samples=k, generator=torch.Generator().manual_seed(0), max_rows=max_rows, mi_examples=examples)
    return (time.perf_counter() - start) / len(part)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--max-rows", type=int, nargs="+", default=[4096, 16384])
    args = parser.parse_args()
    print(f"threads {torch.get_num_threads()}, K = {args.k}, {args.examples} examples per timing")
    print("| preset | max_rows | s / example | projected s for 10,000 | projected min |")
    print("|---|---:|---:|---:|---:|")
    for name in PRESETS_TIMED:
        for rows in args.max_rows:
            per = time_preset(name, args.data_dir, args.examples, rows, args.k)
            print(f"| {name} | {rows} | {per:.3f} | {per * 10_000:,.0f} | {per * 10_000 / 60:.0f} |", flush=True)


if __name__ == "__main__":
    main()
