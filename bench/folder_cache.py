"""The decoded-folder cache (issue 18): build time, open time, epoch throughput memory-mapped
against in RAM, and peak memory of a run on a folder larger than RAM would allow.

    python bench/folder_cache.py --images 200000 --size 64 --dir /tmp/faces64      # a JPEG folder, made once
    python bench/folder_cache.py --images 20000 --size 256 --dir /tmp/faces256 --rss-only

The folder is drawn by the ``faces`` renderer and saved as JPEG (quality 90), in 100 sub-folders
so the labels path is exercised too. Each measurement runs in a fresh process, so one does not warm
the next, except for the page cache, which a user's second run has too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PER_FOLDER = 100  # sub-folders the images are spread over


def make_folder(root: Path, n: int, size: int) -> None:
    """n rendered faces as JPEG files under root (skipped when root already holds n images)."""
    from vaekit.data.facegen import render, sample_factors

    if root.is_dir() and sum(1 for _ in root.rglob("*.jpg")) == n:
        return
    start = time.perf_counter()
    values = sample_factors(n, 0)
    for begin in range(0, n, 1000):
        images = render(values[begin : begin + 1000], size, 3)
        for i, image in enumerate(images, begin):
            folder = root / f"class_{i % PER_FOLDER:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{i:06d}.jpg", quality=90)
    print(f"made {n:,} JPEGs of {size}x{size} in {root} in {time.perf_counter() - start:.0f} s", flush=True)


LOAD = """
import json, resource, time
from vaekit.data import DataConfig, load_dataset
start = time.perf_counter()
d = load_dataset(DataConfig(name="folder:{root}", image_size={size}))
print(json.dumps({{"load_s": time.perf_counter() - start, "source": d.source, "train": len(d.train),
                  "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}}))
"""

TRAIN = """
import json, resource, time, torch
import vaekit
from vaekit.data import DataConfig, load_dataset
from vaekit.models import MODELS
from vaekit.objectives import make_objective
from vaekit.types import Step
vaekit.tune_allocator()
torch.manual_seed(0)
d = load_dataset(DataConfig(name="folder:{root}", image_size={size}))
from dataclasses import replace
config = replace(vaekit.PRESETS["faces-vae"].model, input_shape=None).for_data(d.shape)  # the faces-vae conv net, at any size
model = vaekit.build_model(config)
objective = make_objective(MODELS[config.kind].objective, vaekit.ObjectiveConfig())
opt = torch.optim.Adam(model.parameters(), 1e-3)
g = torch.Generator().manual_seed(0)
order = torch.randperm(len(d.train), generator=g)  # batches from the whole training split, as an epoch draws them
steps, batch = {steps}, 64
def step(i):
    x = d.train.batch(order[i * batch:(i + 1) * batch], g)
    loss = objective(model(x, g), x, Step(i, 1)).loss.mean()
    opt.zero_grad(); loss.backward(); opt.step()
for i in range(3): step(i)  # warm-up
start = time.perf_counter()
for i in range(3, 3 + steps): step(i)
print(json.dumps({{"examples_per_s": steps * batch / (time.perf_counter() - start), "source": d.source,
                  "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}}))
"""


def child(code: str, env: dict[str, str]) -> dict:
    """Run ``code`` in a fresh Python; the JSON line it prints (with its own peak RSS)."""
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--dir", type=Path, required=True, help="where the JPEG folder is (made if missing)")
    parser.add_argument("--steps", type=int, default=100, help="timed training steps of 64 per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rss-only", action="store_true", help="only the peak memory of training on the memory map")
    args = parser.parse_args()
    make_folder(args.dir, args.images, args.size)
    cache = Path(tempfile.mkdtemp(prefix="vaekit-cache-"))
    env = {"VAEKIT_CACHE": str(cache)}
    load = LOAD.format(root=args.dir, size=args.size)
    first = child(load, {**env, "VAEKIT_MEMORY_MAP": "always"})
    print(f"first load (decode {args.images:,} images into the cache): {first['load_s']:.1f} s, peak RSS {first['rss_gib']:.2f} GiB")
    modes = ("always",) if args.rss_only else ("always", "never")
    for mode in modes:
        opened = child(load, {**env, "VAEKIT_MEMORY_MAP": mode})
        print(f"cached load, VAEKIT_MEMORY_MAP={mode}: {opened['load_s']:.2f} s, peak RSS {opened['rss_gib']:.2f} GiB ({opened['source']})")
    train = TRAIN.format(root=args.dir, size=args.size, steps=args.steps)
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(args.rounds):  # interleaved, so drift in the machine's speed hits both
        for mode in rates:
            result = child(train, {**env, "VAEKIT_MEMORY_MAP": mode})
            rates[mode].append(result["examples_per_s"])
            print(f"  {mode}: {result['examples_per_s']:.0f} examples/s, peak RSS {result['rss_gib']:.2f} GiB", flush=True)
    for mode, values in rates.items():
        print(f"training, VAEKIT_MEMORY_MAP={mode}: {np.median(values):.0f} examples/s (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    shutil.rmtree(cache, ignore_errors=True)
    if not args.rss_only:
        print(f"memory map / in RAM: {np.median(rates['always']) / np.median(rates['never']):.3f}")


if __name__ == "__main__":
    main()
