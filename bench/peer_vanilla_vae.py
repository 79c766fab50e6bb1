"""Benchmark: vaekit's conv VAE epoch against a plain-PyTorch loop after PyTorch-VAE's VanillaVAE (issue 18).

The peer is written here after AntixK/PyTorch-VAE's ``models/vanilla_vae.py`` and its
``configs/vae.yaml``, the conv VAE most users of that repository start from: encoder
Conv2d(3x3, stride 2, padding 1) -> BatchNorm2d -> LeakyReLU for 32-64-128-256-512 channels, two
linear heads from 512 x 2 x 2 to mu and log-variance (latent 128); decoder a linear layer to
512 x 2 x 2, ConvTranspose2d(3x3, stride 2, padding 1, output_padding 1) -> BatchNorm2d -> LeakyReLU
back to 32 channels, a final ConvTranspose2d -> BatchNorm2d -> LeakyReLU -> Conv2d(3x3) -> Tanh; loss
``F.mse_loss(recons, x) + kld_weight * mean_b(KL)`` with kld_weight 0.00025; Adam lr 0.005;
batch 64. PyTorch Lightning and its CelebA file pipeline are left out: both sides read the same
64x64 images from one in-memory tensor (the peer through a shuffled ``DataLoader`` over a
``TensorDataset``), so the comparison is the training computation and loop.

vaekit trains the nearest network it has: ``--arch conv --conv-channels 32 64 128 256 512
--latent-dim 128 --likelihood gaussian`` (4x4 kernels, no batch norm, a Gaussian decoder: the
ELBO in nats instead of a weighted MSE), batch 64, the same lr. The two networks differ, so the
table reports each step's FLOPs (``torch.utils.flop_counter``) beside its time, and time per GFLOP.
Rounds alternate which side runs first; medians over rounds.

    python bench/peer_vanilla_vae.py --images 6400 --rounds 3 --threads 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import vaekit
from vaekit.data import DataConfig, load_dataset

HIDDEN = (32, 64, 128, 256, 512)
LATENT = 128
KLD_WEIGHT = 0.00025
LR = 0.005
BATCH = 64


class VanillaVAE(nn.Module):
    """PyTorch-VAE's VanillaVAE for 3x64x64 images (its layers, in its order)."""

    def __init__(self, in_channels: int = 3, latent_dim: int = LATENT, hidden_dims: tuple[int, ...] = HIDDEN):
        super().__init__()
        modules, c = [], in_channels
        for h in hidden_dims:
            modules.append(nn.Sequential(nn.Conv2d(c, h, kernel_size=3, stride=2, padding=1), nn.BatchNorm2d(h), nn.LeakyReLU()))
            c = h
        self.encoder = nn.Sequential(*modules)
        self.fc_mu = nn.Linear(hidden_dims[-1] * 4, latent_dim)
        self.fc_var = nn.Linear(hidden_dims[-1] * 4, latent_dim)
        self.decoder_input = nn.Linear(latent_dim, hidden_dims[-1] * 4)
        rev = list(reversed(hidden_dims))
        self.decoder = nn.Sequential(
            *[
                nn.Sequential(
                    nn.ConvTranspose2d(rev[i], rev[i + 1], kernel_size=3, stride=2, padding=1, output_padding=1),
                    nn.BatchNorm2d(rev[i + 1]),
                    nn.LeakyReLU(),
                )
                for i in range(len(rev) - 1)
            ]
        )
        self.final_layer = nn.Sequential(
            nn.ConvTranspose2d(rev[-1], rev[-1], kernel_size=3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm2d(rev[-1]),
            nn.LeakyReLU(),
            nn.Conv2d(rev[-1], out_channels=3, kernel_size=3, padding=1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.flatten(self.encoder(x), start_dim=1)
        mu, log_var = self.fc_mu(h), self.fc_var(h)
        z = torch.randn_like(mu) * torch.exp(0.5 * log_var) + mu  # reparameterize
        out = self.decoder(self.decoder_input(z).view(-1, 512, 2, 2))
        return self.final_layer(out), mu, log_var


def vanilla_loss(recons: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    recons_loss = F.mse_loss(recons, x)
    kld_loss = torch.mean(-0.5 * torch.sum(1 + log_var - mu**2 - log_var.exp(), dim=1), dim=0)
    return recons_loss + KLD_WEIGHT * kld_loss


def peer_epoch(train: torch.Tensor, seed: int) -> float:
    """Seconds of one training pass of the peer loop over ``train``."""
    torch.manual_seed(seed)
    model = VanillaVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=0.0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train), batch_size=BATCH, shuffle=True)
    started = time.perf_counter()
    model.train()
    for (x,) in loader:
        optimizer.zero_grad()
        loss = vanilla_loss(*model(x), x)
        loss.backward()
        optimizer.step()
        loss.item()  # Lightning logs the loss every step
    return time.perf_counter() - started


def vaekit_config(images: int, valid: int) -> vaekit.RunConfig:
    return vaekit.RunConfig(
        data=vaekit.DataConfig(name=f"faces:{images + valid}", valid_size=valid),
        model=vaekit.ModelConfig(kind="vae", arch="conv", conv_channels=HIDDEN, latent_dim=LATENT, likelihood="gaussian"),
        train=vaekit.TrainConfig(epochs=1, batch_size=BATCH, lr=LR, progress=False),
    )


def vaekit_epoch(images: int, valid: int, seed: int) -> float:
    """Seconds of the training pass of one epoch of ``vaekit.train`` (its metrics' elapsed_s: the
    steps, not loading, validation or checkpoints)."""
    config = vaekit_config(images, valid)
    config = vaekit.RunConfig(config.data, config.model, config.objective, dataclasses.replace(config.train, seed=seed))
    with tempfile.TemporaryDirectory() as tmp:
        vaekit.train(config, out=Path(tmp) / "run", images=False)
        line = (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()[-1]
    return json.loads(line)["elapsed_s"]


def step_flops(model_step) -> float:
    with FlopCounterMode(display=False) as counter:
        model_step()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6400, help="training images (faces at 64x64, RGB)")
    parser.add_argument("--valid", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    splits = load_dataset(DataConfig(name=f"faces:{args.images + args.valid}", valid_size=args.valid))
    train = splits.train.batch(slice(None))  # (N, 3, 64, 64) in [0, 1]: the same images vaekit trains on
    x = train[:BATCH]
    peer = VanillaVAE()
    peer_flops = step_flops(lambda: vanilla_loss(*peer(x), x).backward())
    ours = vaekit.build_model(vaekit_config(args.images, args.valid).model.for_data((3, 64, 64)))
    from vaekit.models import MODELS
    from vaekit.objectives import make_objective
    from vaekit.types import Step

    objective = make_objective(MODELS["vae"].objective, vaekit.ObjectiveConfig())
    our_flops = step_flops(lambda: objective(ours(x, torch.Generator().manual_seed(0)), x, Step(0, 1)).loss.mean().backward())
    print(
        f"{len(train):,} training faces 64x64 RGB, batch {BATCH}, {args.threads} thread(s); "
        f"GFLOP per step: peer {peer_flops / 1e9:.2f}, vaekit {our_flops / 1e9:.2f}"
    )
    times: dict[str, list[float]] = {"peer": [], "vaekit": []}
    vaekit_epoch(args.images, args.valid, 0)  # warm-up (and the faces cache)
    for r in range(args.rounds):
        for side in ("peer", "vaekit") if r % 2 == 0 else ("vaekit", "peer"):
            seconds = peer_epoch(train, r) if side == "peer" else vaekit_epoch(args.images, args.valid, r)
            times[side].append(seconds)
            print(f"  round {r + 1} {side}: {seconds:.1f} s", flush=True)
    peer_s, ours_s = statistics.median(times["peer"]), statistics.median(times["vaekit"])
    steps = -(-len(train) // BATCH)
    print("| loop | GFLOP / step | s / epoch | ms / step | ms per GFLOP |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, flops in (("PyTorch-VAE VanillaVAE (plain loop)", peer_s, peer_flops), ("vaekit", ours_s, our_flops)):
        print(
            f"| {name} | {flops / 1e9:.2f} | {seconds:.1f} | {seconds / steps * 1000:.0f} | {seconds / steps * 1000 / (flops / 1e9):.1f} |"
        )
    print(f"vaekit / peer epoch time: {ours_s / peer_s:.2f}")


if __name__ == "__main__":
    main()
