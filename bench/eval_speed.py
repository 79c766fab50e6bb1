"""Benchmark: importance-weighted evaluation against its GEMM-bound time, and its peak memory.

Trains the seed VAE for one epoch (so the weights are a real model's), then times
``vaekit.evaluate`` on the 10,000 MNIST test images at K = 1000 and compares it with the time
its matrix products alone would take at the GEMM rate measured in the same run (FLOPs counted by
``torch.utils.flop_counter`` on a slice of the same evaluation). Peak memory is measured in a
fresh process per K (the peak resident set during the evaluation, reset just before it through
/proc/self/clear_refs, minus the process's size before it), to show that chunking bounds it whatever K is. With pythae importable, its
``get_nll`` is timed on the same images at K = 5000 beside ``vaekit.evaluate``.

    python bench/eval_speed.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import vaekit
from vaekit import run as runs

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import gemm_rate, vaekit_config  # noqa: E402


def status_bytes(field: str) -> int:
    """VmRSS / VmHWM (peak) of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def memory_probe(run: Path, data_dir: Path, k: int, n: int) -> None:
    """Child process: evaluate n test images at K=k and print the peak memory rise as JSON."""
    model = vaekit.load(run)
    data = runs.load_split(run, "test", data_dir, n)
    before = status_bytes("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to the current size
        f.write("5")
    started = time.perf_counter()
    vaekit.evaluate(model, data, iw_samples=k, generator=torch.Generator().manual_seed(0))
    peak = status_bytes("VmHWM")
    print(json.dumps({"k": k, "n": n, "rise": peak - before, "seconds": time.perf_counter() - started}))


def pythae_nll_seconds(model: vaekit.models.LatentModel, x: torch.Tensor, k: int) -> float | None:
    """Seconds of pythae's VAE.get_nll on x with the same network (weights copied); None without pythae."""
    try:
        from pythae.models import VAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
    except ImportError:
        return None

    class Encoder(BaseEncoder):
        def forward(self, x):
            q = model.encode(x)
            return ModelOutput(embedding=q.mu, log_covariance=q.logvar)

    class Decoder(BaseDecoder):
        def forward(self, z):
            return ModelOutput(reconstruction=model.decode(z).mean)

    vae = VAE(
        VAEConfig(input_dim=tuple(x.shape[1:]), latent_dim=model.latent_dim, reconstruction_loss="bce"),
        encoder=Encoder(),
        decoder=Decoder(),
    )
    started = time.perf_counter()
    vae.get_nll(x, n_samples=k, batch_size=100)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--memory-k", type=int, nargs="+", default=[100, 1000, 5000, 20000])
    parser.add_argument("--probe", nargs=3, metavar=("RUN", "K", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    vaekit.tune_allocator()  # as the vaekit command does
    if args.probe:
        memory_probe(Path(args.probe[0]), args.data_dir, int(args.probe[1]), int(args.probe[2]))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "seed-vae"
        vaekit.train(vaekit_config(args.data_dir, 128), run, images=False)
        model = vaekit.load(run)
        test = runs.load_split(run, "test", args.data_dir)
        k = args.iw_samples

        counter = FlopCounterMode(display=False)
        with counter:
            vaekit.evaluate(model, test.head(200), iw_samples=k, generator=torch.Generator().manual_seed(0))
        flops = counter.get_total_flops() / 200 * len(test)
        rows = []
        for _ in range(2):
            rate = gemm_rate()
            started = time.perf_counter()
            report = vaekit.evaluate(model, test, iw_samples=k, generator=torch.Generator().manual_seed(0))
            seconds = time.perf_counter() - started
            rows.append((seconds, rate, flops / rate))
        print("| examples | K | wall s | examples/s | matrix-product FLOPs | GEMM rate | GEMM-bound s | wall / GEMM-bound | -log p(x) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for seconds, rate, bound in rows:
            print(
                f"| {len(test)} | {k} | {seconds:.1f} | {len(test) / seconds:,.0f} | {flops / 1e12:.2f} T | {rate / 1e9:.0f} GFLOP/s "
                f"| {bound:.1f} | {seconds / bound:.2f} | {report.nll:.2f} |",
                flush=True,
            )

        print("\nPeak memory of the evaluation (fresh process per K; peak resident set during the evaluation minus the size before it):\n")
        print("| K | examples | peak rise MiB | wall s |")
        print("|---|---|---|---|")
        for k_mem in args.memory_k:
            out = subprocess.run(
                [sys.executable, __file__, "--data-dir", str(args.data_dir), "--probe", str(run), str(k_mem), "200"],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {r['k']} | {r['n']} | {r['rise'] / 2**20:.0f} | {r['seconds']:.1f} |", flush=True)

        x = test.batch(slice(0, 20))
        pythae_s = pythae_nll_seconds(model, x, 5000)
        if pythae_s is not None:
            started = time.perf_counter()
            vaekit.evaluate(model, test.head(20), iw_samples=5000, generator=torch.Generator().manual_seed(0))
            ours = time.perf_counter() - started
            print(
                f"\nK = 5000 on 20 test images: pythae get_nll {pythae_s / 20:.3f} s per image, vaekit.evaluate {ours / 20:.3f} s per image"
            )


if __name__ == "__main__":
    main()
