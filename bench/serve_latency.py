"""How fast the explorer answers (issue 17's goal: a slider's decode under 50 ms for an MNIST-size
model and under 200 ms for a 64x64 conv model, p50 and p95 over 200 requests).

    python bench/serve_latency.py --data-dir ../shared/data            # trains two small runs first (about a minute)
    python bench/serve_latency.py --runs runs/mnist-vae runs/faces-vae  # or measure runs of your own

Each run is served on a free port as `vaekit serve` serves it, and one HTTP/1.1 connection (as a
browser tab keeps) sends 200 decode requests of one latent each, each a random step from the last
(a slider being dragged), then 50 sample requests of 16 and 50 interpolations of 9 images. Times
are wall clock per request at the client: JSON, the decode, PNG encoding and HTTP included.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import socket
import tempfile
import time
import urllib.parse
from pathlib import Path

import numpy as np
import torch

from vaekit.cli import main
from vaekit.serve.app import Server, allowed_hosts, make_app
from vaekit.serve.explorer import Explorer


def vaekit(*argv) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        if main([str(a) for a in argv]) != 0:
            raise SystemExit(f"vaekit {' '.join(map(str, argv))} failed")


def timed(connection: http.client.HTTPConnection, path: str, body: dict) -> float:
    start = time.perf_counter()
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise SystemExit(f"{path}: {response.status} {payload[:200]!r}")
    return elapsed * 1000


def measure(run_dir: Path, requests: int, seed: int) -> dict:
    explorer = Explorer(run_dir)
    d = explorer.model.latent_dim
    rng = np.random.default_rng(seed)
    with Server(make_app(explorer, allowed_hosts("127.0.0.1"))) as url:
        host, port = urllib.parse.urlsplit(url).netloc.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.connect()
        # as browsers do (the server sets it on its side, vaekit.serve.app.bind)
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        z = np.zeros(d)
        for _ in range(10):  # warm-up: first calls allocate
            timed(connection, "/api/decode", {"z": [z.tolist()]})
        decode = []
        for _ in range(requests):
            z = np.clip(z + rng.normal(0, 0.3, d) * (rng.random(d) < 1 / d + 0.01), -3, 3)  # one slider moves
            decode.append(timed(connection, "/api/decode", {"z": [z.tolist()]}))
        samples = [timed(connection, "/api/sample", {"n": 16, "seed": i}) for i in range(50)] if explorer.samplers() else []
        path = [timed(connection, "/api/interpolate", {"a": [0.0] * d, "b": [1.0] * d, "steps": 9}) for _ in range(50)]
        connection.close()

    def stats(values: list[float]) -> dict:
        return (
            {"p50_ms": round(float(np.percentile(values, 50)), 1), "p95_ms": round(float(np.percentile(values, 95)), 1)} if values else {}
        )

    parameters = sum(p.numel() for p in explorer.model.parameters())
    return {
        "run": str(run_dir),
        "model": f"{type(explorer.model).__name__} {tuple(explorer.model.data_shape)}, {parameters:,} parameters",
        "decode": stats(decode),
        "sample_16": stats(samples),
        "interpolate_9": stats(path),
    }


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=Path, nargs="*", help="runs to serve (default: train an MNIST VAE and a 64x64 faces-vae for one epoch)"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = args.runs
    if not runs:
        root = Path(tempfile.mkdtemp(prefix="vaekit-serve-bench-"))
        data = ["--data-dir", args.data_dir] if args.data_dir else []
        vaekit(
            "train", "--data", "mnist", "--limit", 2000, "--epochs", 1, "--no-progress", "--no-images", *data, "--out", root / "mnist-vae"
        )
        vaekit(
            "train",
            "--preset",
            "faces-vae",
            "--data",
            "faces:1000",
            "--epochs",
            1,
            "--no-progress",
            "--no-images",
            "--out",
            root / "faces-vae",
        )
        runs = [root / "mnist-vae", root / "faces-vae"]
    rows = [measure(Path(r), args.requests, 0) for r in runs]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| model | decode p50 | decode p95 | sample 16 p50 / p95 | interpolate 9 p50 / p95 |\n|---|---:|---:|---:|---:|")
    for r in rows:
        s, i = r["sample_16"], r["interpolate_9"]
        print(
            f"| {r['model']} | {r['decode']['p50_ms']} ms | {r['decode']['p95_ms']} ms | "
            f"{s.get('p50_ms', '—')} / {s.get('p95_ms', '—')} ms | {i['p50_ms']} / {i['p95_ms']} ms |"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main_()
