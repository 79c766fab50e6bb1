"""Benchmark: one process against torchrun's processes on this machine's CPU cores (gloo).

Trains the seed VAE and a 784-400-20 ``ae`` on MNIST for ``--epochs`` epochs two ways each, each
from a fresh `vaekit train` command: one process with all cores (batch B), and ``torchrun
--nproc_per_node N`` with cores / N threads each (batch B / N per process, the same B examples per
step). It reports the training-loop time (metrics.jsonl's elapsed_s), the final validation loss
and, for the deterministic ``ae``, the largest weight difference to the single process. CPU only.

    python bench/distributed_cpu.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from vaekit.run.layout import WEIGHTS
from vaekit.runtime.files import load_tensors


def run(command: list[str], threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])


def last_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--batch-size", type=int, default=128, help="examples per step over all processes")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    n, cores = args.processes, os.cpu_count() or 1
    print(f"{cores} cores; seed-vae and ae (784-400-20) on MNIST (50k train), {args.epochs} epochs, {args.batch_size} examples per step\n")
    print("| model | processes x threads | batch per process | train s | valid loss | max weight difference to 1 process |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("seed-vae", "ae"):
            chosen = ["--preset", "seed-vae"] if model == "seed-vae" else ["--model", "ae", "--hidden", "400", "--latent-dim", "20"]
            common = [
                "train",
                *chosen,
                "--data",
                "mnist",
                "--data-dir",
                str(args.data_dir),
                "--epochs",
                str(args.epochs),
                "--no-progress",
                "--no-images",
                "--checkpoint-every-s",
                "1e9",
            ]
            one, many = Path(tmp) / f"{model}-1", Path(tmp) / f"{model}-{n}"
            run([sys.executable, "-m", "vaekit", *common, "--batch-size", str(args.batch_size), "--out", str(one)], cores)
            run(
                [
                    sys.executable,
                    "-m",
                    "torch.distributed.run",
                    "--standalone",
                    f"--nproc_per_node={n}",
                    "-m",
                    "vaekit",
                    *common,
                    "--batch-size",
                    str(args.batch_size // n),
                    "--out",
                    str(many),
                ],
                max(1, cores // n),
            )
            a, b = load_tensors(one / WEIGHTS)[0], load_tensors(many / WEIGHTS)[0]
            diff = max(float((a[k] - b[k]).abs().max()) for k in a)
            for run_dir, procs, batch in ((one, 1, args.batch_size), (many, n, args.batch_size // n)):
                m = last_metrics(run_dir)
                shown = "—" if procs == 1 else f"{diff:.1e}"
                print(
                    f"| {model} | {procs} x {cores // procs} | {batch} | {m['elapsed_s']:.1f} | {m['valid_loss']:.2f} | {shown} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
