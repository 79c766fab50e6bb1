"""Benchmark: how training cost grows with dataset size and with image size.

1. The seed VAE on the first N MNIST training images, N = 7,500 ... 60,000: seconds per epoch
   should grow linearly in N (the time per example stays flat), since a batch is an index into
   one in-memory tensor whatever N is.
2. The conv VAE (``--arch conv``, width 32, default depth) on grey images of 28, 64, 128 and
   256 pixels a side: MNIST digits scaled up (nearest neighbour) and written as an ``npy:`` file,
   1,024 of them, batch 32. FLOPs per example come from ``torch.utils.flop_counter`` (one forward
   + backward step), so the table shows whether time follows the arithmetic.

    python bench/scaling.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import vaekit
from vaekit.data.mnist import load_mnist

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import flops_per_example  # noqa: E402


def epoch_seconds(config: vaekit.RunConfig, out: Path, epochs: int = 2) -> float:
    """Seconds per epoch of ``vaekit.train``'s loop (the best of ``epochs`` single-epoch runs)."""
    best = float("inf")
    for e in range(epochs):
        result = vaekit.train(config, out / str(e), images=False)
        best = min(best, result.progress.elapsed_s)
    return best


def dataset_sizes(data_dir: Path, out: Path) -> None:
    print("| training examples | s/epoch | µs per example |")
    print("|---|---|---|")
    for n in (7_500, 15_000, 30_000, 60_000):
        config = vaekit.RunConfig(
            data=vaekit.DataConfig(name="mnist", data_dir=data_dir, valid_size=0, limit=n),
            model=vaekit.PRESETS["seed-vae"].model,
            train=vaekit.TrainConfig(epochs=1, progress=False, checkpoint_every_s=1e9),
            preset="seed-vae",
        )
        s = epoch_seconds(config, out / f"n{n}")
        print(f"| {n:,} | {s:.2f} | {s / n * 1e6:.1f} |", flush=True)


def image_sizes(data_dir: Path, out: Path, n: int = 1024, batch: int = 32) -> None:
    digits = torch.from_numpy(load_mnist(data_dir).train.x[:n]).float()  # (n, 1, 28, 28)
    model = vaekit.ModelConfig(kind="vae", arch="conv", width=32, latent_dim=32)
    print("| image size | s/epoch | ms per example | GFLOP per example (fwd + bwd) | achieved GFLOP/s |")
    print("|---|---|---|---|---|")
    for size in (28, 64, 128, 256):
        images = F.interpolate(digits, size=(size, size), mode="nearest").round().to(torch.uint8).numpy()
        path = out / f"digits{size}.npy"
        np.save(path, images)
        config = vaekit.RunConfig(
            data=vaekit.DataConfig(name=f"npy:{path}", valid_size=0),
            model=model,
            train=vaekit.TrainConfig(epochs=1, batch_size=batch, progress=False, checkpoint_every_s=1e9),
        )
        n_train = n - n // 10  # npy data keep the last tenth as the test split
        s = epoch_seconds(config, out / f"s{size}")
        flops = flops_per_example(batch, model, (1, size, size), preset=None)
        print(f"| {size}x{size} | {s:.2f} | {s / n_train * 1e3:.2f} | {flops / 1e9:.3f} | {flops * n_train / s / 1e9:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    vaekit.tune_allocator()  # as the vaekit command does
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    with tempfile.TemporaryDirectory() as tmp:
        dataset_sizes(args.data_dir, Path(tmp))
        print()
        image_sizes(args.data_dir, Path(tmp))


if __name__ == "__main__":
    main()
