"""How fast ``faces`` renders: N faces at each size, on this machine's threads.

python bench/render_faces.py [--n 20000]
"""

from __future__ import annotations

import argparse
import time

import torch

from vaekit.data.facegen import render, sample_factors

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for size, n in ((32, args.n), (64, args.n), (128, args.n // 4), (256, args.n // 16)):
        values = sample_factors(n, 0)
        start = time.perf_counter()
        render(values, size, 3)
        seconds = time.perf_counter() - start
        print(f"{n:,} faces at {size}x{size}: {seconds:.1f} s ({n / seconds:,.0f} faces/s)")
