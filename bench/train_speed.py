"""Benchmark: training speed of the seed VAE on MNIST against the loops people use today.

Every round measures, one after the other on the same machine: the float32 GEMM rate (a square
2048 x 2048 matrix product), one epoch of a pytorch/examples-style loop, one epoch of pythae's
trainer (when pythae is importable), and one epoch of ``vaekit.train``. This VM's speed drifts by
±20 % within minutes, so each round's ratios are taken inside the round and the table reports the
median over rounds.

The model is the seed's 784-400-20 VAE (Bernoulli decoder, grey-level MNIST targets, Adam 1e-3)
on all 60,000 training images. Matrix-product FLOPs are counted by ``torch.utils.flop_counter``
on one real forward + backward step of vaekit's model (what autograd actually runs: the first
layer's input gradient is not computed), so "of GEMM" is the share of the measured GEMM rate the
epoch achieves: FLOPs per epoch / epoch time / GEMM rate.

    python bench/train_speed.py --data-dir ../shared/data              # vaekit + pytorch/examples
    /path/to/venv-with-pythae/bin/python bench/train_speed.py ...      # adds pythae's trainer
    ... --fast                                                         # adds vaekit --precision bf16

The pytorch/examples-style loop is written here after that example's structure (torchvision's
MNIST dataset: one PIL image per __getitem__ turned into a tensor by ToTensor; a DataLoader with
shuffle; sigmoid then binary_cross_entropy summed over the batch; default Adam; ``loss.item()``
every step). torchvision is not available here, so its two data steps are re-created with PIL and
numpy exactly as torchvision performs them.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import vaekit
from vaekit.data.mnist import load_mnist
from vaekit.models import MODELS
from vaekit.objectives import make_objective
from vaekit.types import Step


def gemm_rate(n: int = 2048, repeats: int = 8) -> float:
    """Measured float32 matrix-product rate, FLOP/s (best of ``repeats`` products)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best


# --- pytorch/examples (vae/main.py) style ----------------------------------------------------


class TorchvisionStyleMNIST(torch.utils.data.Dataset):
    """What torchvision.datasets.MNIST(transform=ToTensor()) does per example."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.data, self.targets = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.data[i].numpy(), mode="L")  # torchvision returns a PIL image
        pic = torch.from_numpy(np.array(img, np.uint8, copy=True)).view(28, 28, 1)  # ToTensor
        return pic.permute(2, 0, 1).contiguous().float().div(255), int(self.targets[i])


class ExamplesVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


class ExamplesLoop:
    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int):
        self.loader = torch.utils.data.DataLoader(TorchvisionStyleMNIST(images, labels), batch_size=batch_size, shuffle=True)
        self.model = ExamplesVAE()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self) -> float:
        self.model.train()
        train_loss = 0.0
        for data, _ in self.loader:
            self.optimizer.zero_grad()
            recon, mu, logvar = self.model(data)
            bce = F.binary_cross_entropy(recon, data.view(-1, 784), reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = bce + kld
            loss.backward()
            train_loss += loss.item()
            self.optimizer.step()
        return train_loss / len(self.loader.dataset)


# --- pythae ---------------------------------------------------------------------------------


def pythae_loop(images: np.ndarray, batch_size: int):
    """pythae's BaseTrainer on its VAE with the same 784-400-20 networks; None if not installed."""
    try:
        from pythae.data.datasets import BaseDataset
        from pythae.models import VAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.trainers import BaseTrainer, BaseTrainerConfig
    except ImportError:
        return None

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)

        def forward(self, x):
            h = F.relu(self.fc1(x.reshape(-1, 784)))
            return ModelOutput(embedding=self.fc21(h), log_covariance=self.fc22(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.fc4(F.relu(self.fc3(z)))).reshape(-1, 1, 28, 28))

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=20, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    out = tempfile.mkdtemp(prefix="pythae-")
    train_config = BaseTrainerConfig(output_dir=out, per_device_train_batch_size=batch_size, num_epochs=1, learning_rate=1e-3, no_cuda=True)
    data = torch.from_numpy(images).float().div(255)[:, None]  # (N, 1, 28, 28)
    trainer = BaseTrainer(model, train_dataset=BaseDataset(data, torch.zeros(len(data))), training_config=train_config)
    trainer.prepare_training()  # what BaseTrainer.train() does before its epochs (optimizer, callbacks)
    return trainer


# --- vaekit ---------------------------------------------------------------------------------


def vaekit_config(data_dir: Path, batch_size: int, precision: str = "fp32") -> vaekit.RunConfig:
    return vaekit.RunConfig(
        data=vaekit.DataConfig(name="mnist", data_dir=data_dir, valid_size=0),
        model=vaekit.PRESETS["seed-vae"].model,
        train=vaekit.TrainConfig(epochs=1, batch_size=batch_size, progress=False, checkpoint_every_s=1e9, precision=precision),
        preset="seed-vae",
    )


def vaekit_epoch(data_dir: Path, batch_size: int, out: Path, precision: str = "fp32") -> float:
    """Seconds of ``vaekit.train``'s training loop for one epoch (setup and checkpoint not counted)."""
    result = vaekit.train(vaekit_config(data_dir, batch_size, precision), out, images=False)
    return result.progress.elapsed_s


def flops_per_example(
    batch_size: int, model_config: vaekit.ModelConfig | None = None, shape: tuple[int, ...] = (1, 28, 28), preset: str | None = "seed-vae"
) -> float:
    """Matrix-product and convolution FLOPs of one forward + backward step, per example (seed VAE by default)."""
    config = (model_config or vaekit.PRESETS["seed-vae"].model).for_data(shape, preset)
    model = vaekit.build_model(config)
    objective = make_objective(MODELS[config.kind].objective, vaekit.ObjectiveConfig())
    x = torch.rand(batch_size, *shape)
    counter = FlopCounterMode(display=False)
    with counter:
        objective(model(x, torch.Generator().manual_seed(0)), x, Step(0, 1)).loss.mean().backward()
    return counter.get_total_flops() / batch_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-baselines", action="store_true", help="time vaekit and the GEMM rate only")
    parser.add_argument("--fast", action="store_true", help="also time vaekit's fast recipe (--precision bf16)")
    args = parser.parse_args()
    vaekit.tune_allocator()  # as the vaekit command does
    raw = load_mnist(args.data_dir).train
    images, labels = raw.x[:, 0], raw.y  # (60000, 28, 28) uint8
    n = len(images)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n} training images, {args.rounds} rounds\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch_size in args.batch_sizes:
            flops = flops_per_example(batch_size) * n
            contestants = {"vaekit": lambda r, bs=batch_size: vaekit_epoch(args.data_dir, bs, Path(tmp) / f"v{bs}-{r}")}
            if args.fast:
                contestants["vaekit bf16"] = lambda r, bs=batch_size: vaekit_epoch(args.data_dir, bs, Path(tmp) / f"b{bs}-{r}", "bf16")
            if not args.no_baselines:
                examples = ExamplesLoop(images, labels, batch_size)
                contestants["pytorch/examples"] = lambda r, loop=examples: timed(loop.epoch)
                trainer = pythae_loop(images, batch_size)
                if trainer is not None:
                    contestants["pythae"] = lambda r, t=trainer: timed(lambda: t.train_step(r))
            for run in contestants.values():  # warm-up epoch, not counted
                run(-1)
            times: dict[str, list[float]] = {name: [] for name in contestants}
            rates = []
            for r in range(args.rounds):
                rates.append(gemm_rate())
                for name, run in contestants.items():
                    times[name].append(run(r))
                print(
                    f"batch {batch_size} round {r + 1}: GEMM {rates[-1] / 1e9:.0f} GFLOP/s, "
                    + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
                    flush=True,
                )
            rows.append((batch_size, flops, rates, times))
    print(
        "\nmatrix-product FLOPs per epoch (forward + backward, flop_counter): "
        + ", ".join(f"batch {bs}: {f / 1e9:.1f} G" for bs, f, _, _ in rows)
        + "\n"
    )
    print("| batch | loop | s/epoch (median) | examples/s | of GEMM rate | vaekit / this loop |")
    print("|---|---|---|---|---|---|")
    for batch_size, flops, rates, times in rows:
        for name, t in times.items():
            share = statistics.median(flops / ti / g for ti, g in zip(t, rates, strict=True))
            ratio = statistics.median(v / ti for v, ti in zip(times["vaekit"], t, strict=True))
            print(
                f"| {batch_size} | {name} | {statistics.median(t):.2f} | {n / statistics.median(t):,.0f} | {share:.0%} "
                f"| {'—' if name == 'vaekit' else f'{ratio:.2f}'} |"
            )
    for batch_size, _, _, times in rows:  # the fast recipe against each baseline, round by round
        for name in (n for n in times if "vaekit bf16" in times and not n.startswith("vaekit")):
            ratio = statistics.median(v / ti for v, ti in zip(times["vaekit bf16"], times[name], strict=True))
            print(f"batch {batch_size}: vaekit bf16 / {name} = {ratio:.2f}")
    print(
        f"\nGEMM rate over all rounds: {min(r for *_, rs, _ in rows for r in rs) / 1e9:.0f}-"
        f"{max(r for *_, rs, _ in rows for r in rs) / 1e9:.0f} GFLOP/s"
    )


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
