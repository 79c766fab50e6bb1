"""Benchmark: the conv decoder's image layer (a transposed convolution to 1-3 channels) as oneDNN's
layer against vaekit's matrix product (``networks.ImageTransposedConv``), without gradients, and
what it does to the K = 5000 bound of the ``binarized-vae`` conv net.

Interleaved A/B rounds in one process (the best round of each is reported); the bound is checked
to agree between the two to float32 rounding.

    python bench/transposed_conv.py --threads 2 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import time

import torch

from vaekit.data import DataConfig, load_dataset
from vaekit.evaluation import evaluate
from vaekit.models import PRESETS, build_model, networks

# (C_in, C_out, input side, batch): the last layer of the 28x28 binarized-vae decoder at the K = 5000
# chunk (4096 latents), and of 32x32 / 64x64 grey and RGB conv decoders at a sampling batch
SHAPES = [(32, 1, 14, 4096), (32, 2, 14, 4096), (32, 3, 14, 4096), (32, 1, 32, 256), (32, 3, 32, 256), (32, 3, 16, 1024)]


def best_ms(fn, rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def layers(rounds: int) -> None:
    print("| C_in -> C_out | input | batch | oneDNN ms | product ms | speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    for c_in, c_out, side, batch in SHAPES:
        torch.manual_seed(0)
        layer = networks.ImageTransposedConv(c_in, c_out, 4, stride=2, padding=1).to(memory_format=torch.channels_last)
        x = torch.randn(batch, c_in, side, side).contiguous(memory_format=torch.channels_last)
        saved = networks.ImageTransposedConv.MAX_CHANNELS
        networks.ImageTransposedConv.MAX_CHANNELS = 3  # time the product for RGB too
        plain, fast = [], []
        with torch.no_grad():
            for _ in range(rounds):  # interleaved
                networks.ImageTransposedConv.enabled = False
                plain.append(best_ms(lambda layer=layer, x=x: layer(x), 1))
                networks.ImageTransposedConv.enabled = True
                fast.append(best_ms(lambda layer=layer, x=x: layer(x), 1))
        networks.ImageTransposedConv.MAX_CHANNELS = saved
        a, b = min(plain), min(fast)
        print(f"| {c_in} -> {c_out} | {side}x{side} | {batch} | {a:.1f} | {b:.1f} | {a / b:.2f}x |", flush=True)


def bound(data_dir: str | None, examples: int, k: int, rounds: int) -> None:
    preset = PRESETS["binarized-vae"]
    splits = load_dataset(DataConfig(name=preset.data, data_dir=data_dir))
    torch.manual_seed(0)
    model = build_model(preset.model.for_data(splits.test.shape)).eval()
    part = splits.test.head(examples)

    def run() -> tuple[float, float]:
        start = time.perf_counter()
        report = evaluate(model, part, iw_samples=k, generator=torch.Generator().manual_seed(0), mi_examples=examples)
        return time.perf_counter() - start, report.iwae_log_px

    evaluate(model, splits.test.head(2), iw_samples=k, generator=torch.Generator().manual_seed(0))  # warm-up
    times = {False: [], True: []}
    values = {}
    for _ in range(rounds):
        for enabled in (False, True):
            networks.ImageTransposedConv.enabled = enabled
            seconds, log_px = run()
            times[enabled].append(seconds)
            values[enabled] = log_px
    networks.ImageTransposedConv.enabled = True
    a, b = min(times[False]) / examples, min(times[True]) / examples
    print(f"\nbinarized-vae, K = {k}, {examples} test images: oneDNN {a:.3f} s / image, product {b:.3f} s / image ({a / b:.2f}x);")
    print(f"projected for 10,000 images: {a * 10_000 / 60:.0f} -> {b * 10_000 / 60:.0f} min")
    print(f"log p(x) bound: oneDNN {values[False]:.4f}, product {values[True]:.4f} nats")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--k", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.rounds} interleaved rounds (best shown)\n")
    layers(args.rounds)
    bound(args.data_dir, args.examples, args.k, args.rounds)


if __name__ == "__main__":
    main()
