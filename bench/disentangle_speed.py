"""Benchmark: training throughput of the standard disentanglement networks on 64x64 ``shapes``.

Issue 14 asks for presets that train in at most one hour of this 2-core CPU, so the network is
chosen by how many steps an hour buys. This measures examples per second of full training steps
(forward, backward, Adam; the FactorVAE discriminator's own step included) for:

- ``conv``: Higgins et al. 2017 / Locatello et al. 2019: four 4x4 stride-2 convolutions
  32-32-64-64, a 256-unit layer, D = 10, Bernoulli decoder (the mirror image);
- ``mlp``: Chen et al. 2018: encoder 1200-1200, decoder 1200-1200-1200 (ReLU throughout).

Rounds interleave the configurations, so a drift of the machine's speed hits all of them alike;
the table gives the median over rounds.

    python bench/disentangle_speed.py --rounds 3 --steps 60
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vaekit.commands import RunConfig
from vaekit.commands.fit import _prepare, _trainer
from vaekit.data import DataConfig
from vaekit.models import ModelConfig
from vaekit.training import TrainConfig

NETWORKS = {
    "conv": {"arch": "conv", "conv_channels": (32, 32, 64, 64), "dense": (256,)},
    "mlp": {"arch": "mlp", "hidden": (1200, 1200), "decoder_hidden": (1200, 1200, 1200)},
}
FAMILIES = ("beta-vae", "factor-vae")


def _trainer_for(network: str, family: str, batch: int, out: Path):
    config = RunConfig(
        data=DataConfig(name="shapes"),
        model=ModelConfig(kind=family, latent_dim=10, **NETWORKS[network]),
        train=TrainConfig(epochs=1, batch_size=batch, progress=False),
    )
    data, config, model = _prepare(config, torch.device("cpu"))
    out.mkdir()
    return _trainer(config, data, model, out, images=False, echo=None)


def _rate(trainer, steps: int, batch: int) -> float:
    x = trainer.data.train.batch(slice(0, batch))
    for _ in range(5):  # warm-up: allocator, oneDNN primitives
        trainer._step(x)
    started = time.perf_counter()
    for _ in range(steps):
        trainer._step(x)
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {(n, f): _trainer_for(n, f, args.batch, Path(tmp) / f"{n}-{f}") for n in NETWORKS for f in FAMILIES}
        for _ in range(args.rounds):
            for key, trainer in trainers.items():
                rates.setdefault(key, []).append(_rate(trainer, args.steps, args.batch))
    print(f"| network | family | examples/s (median of {args.rounds}) | steps of {args.batch} per hour |")
    print("|---|---|---|---|")
    for (network, family), values in rates.items():
        rate = statistics.median(values)
        print(f"| {network} | {family} | {rate:.0f} | {rate * 3600 / args.batch:,.0f} |")


if __name__ == "__main__":
    main()
