"""Benchmark: training-step speed of the conv / resnet VAE on CPU by memory layout and thread count.

For each image size (RGB, a faces-like batch of 64) and architecture, one round times a full training
step (forward, ELBO, backward, Adam) in each layout, interleaved A/B/A/B so the VM's drift hits every
variant alike; the table gives the median step time over rounds and the speed-up over the default
NCHW layout. Layouts:

- ``nchw``: torch's default contiguous layout for weights and activations (vaekit before issue 18);
- ``nhwc-input``: contiguous weights, the activations ``channels_last``;
- ``nhwc-all``: weights and activations ``channels_last`` (vaekit's default since issue 18);
- ``bf16`` / ``bf16-nhwc``: the opt-in ``--precision bf16`` (the model under bfloat16 autocast, its
  outputs widened to float32 for the loss, as vaekit's trainer does), in each layout. These change
  the numbers on purpose; their differences are shown for scale.

With ``--iwae N``, it also times ``evaluate`` at K = 5000 on N test images of statically binarized
MNIST for the ``binarized-vae`` preset's conv net, in the nchw and nhwc-all layouts (the papers'
protocol, which issue 15 found to take about three hours for that preset).

Each variant starts from the same weights; after the timed steps the variants' losses and weights
are compared with the NCHW run, so "same results" is measured, not assumed.

    python bench/conv_speed.py --sizes 32 64 128 --threads 1 2
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

import vaekit
from vaekit.models import MODELS, build_model, networks
from vaekit.models.compiled import compile_networks
from vaekit.models.config import ModelConfig
from vaekit.objectives import make_objective
from vaekit.training.precision import widen
from vaekit.types import Step

LAYOUTS = ("nchw", "nhwc-input", "nhwc-all", "bf16", "bf16-nhwc")
COMPILED = ("compiled", "bf16-compiled")  # nhwc-all / bf16-nhwc with the networks compiled (--compile)


def make_step(model: torch.nn.Module, layout: str):
    objective = make_objective(MODELS["vae"].objective, vaekit.ObjectiveConfig())
    weights = torch.channels_last if layout in ("nhwc-all", "bf16-nhwc", *COMPILED) else torch.contiguous_format
    activations = torch.contiguous_format if layout in ("nchw", "bf16") else torch.channels_last
    model.to(memory_format=weights)
    if layout in COMPILED:
        compiled, note = compile_networks(model)
        assert compiled, note
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=layout.startswith("bf16"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x: torch.Tensor, seed: int) -> float:
        networks.MEMORY_FORMAT = activations  # the layout ConvEncoder / ConvDecoder put activations in
        x = x.contiguous(memory_format=activations)
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            out = widen(model(x, torch.Generator().manual_seed(seed)))
        loss = objective(out, x, Step(seed, 1000)).loss.mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def bench(size: int, arch: str, threads: int, rounds: int, steps: int, layouts: tuple[str, ...]) -> dict[str, tuple[float, float, float]]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if arch == "mlp":  # the seed's 784-400-20 VAE at batch 128 (layouts do not apply; the compiled variants do)
        config = ModelConfig(kind="vae", hidden=(400,), latent_dim=20, likelihood="bernoulli", input_shape=(1, 28, 28))
        x = torch.rand(128, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    else:
        config = ModelConfig(kind="vae", arch=arch, width=32, latent_dim=32, likelihood="bernoulli", input_shape=(3, size, size))
        x = torch.rand(64, 3, size, size, generator=torch.Generator().manual_seed(1))
    base = build_model(config)
    models = {layout: copy.deepcopy(base) for layout in layouts}
    steps_of = {layout: make_step(models[layout], layout) for layout in layouts}
    times: dict[str, list[float]] = {layout: [] for layout in layouts}
    losses: dict[str, list[float]] = {layout: [] for layout in layouts}
    for layout in layouts:  # warm-up: oneDNN primitive creation, compilation
        steps_of[layout](x, 0)
    for r in range(rounds):
        for layout in layouts if r % 2 == 0 else reversed(layouts):
            started = time.perf_counter()
            for s in range(steps):
                losses[layout].append(steps_of[layout](x, 1 + r * steps + s))
            times[layout].append((time.perf_counter() - started) / steps)
    reference = models["nchw"].state_dict()
    out = {}
    for layout in layouts:
        state = models[layout].state_dict()
        weight_diff = max((state[k].float() - reference[k].float()).abs().max().item() for k in reference)
        loss_diff = max(abs(a - b) / abs(b) for a, b in zip(sorted(losses[layout]), sorted(losses["nchw"]), strict=True))
        out[layout] = (statistics.median(times[layout]), weight_diff, loss_diff)
    return out


def bench_iwae(examples: int, data_dir: str | None, rounds: int) -> dict[str, tuple[float, float]]:
    """Seconds per test example of the K = 5000 bound, and the bound's mean, for the nchw and nhwc-all layouts."""
    from vaekit.data import DataConfig, load_dataset
    from vaekit.evaluation import evaluate
    from vaekit.models import PRESETS

    preset = PRESETS["binarized-vae"]
    test = load_dataset(DataConfig(name="binarized-mnist", data_dir=data_dir)).test.head(examples)
    torch.manual_seed(0)
    base = build_model(preset.model)
    times: dict[str, list[float]] = {"nchw": [], "nhwc-all": []}
    bound: dict[str, float] = {}
    for r in range(rounds):
        for layout in ("nchw", "nhwc-all") if r % 2 == 0 else ("nhwc-all", "nchw"):
            fmt = torch.contiguous_format if layout == "nchw" else torch.channels_last
            networks.MEMORY_FORMAT = fmt
            model = copy.deepcopy(base).to(memory_format=fmt)
            started = time.perf_counter()
            report = evaluate(model, test, iw_samples=5000, generator=torch.Generator().manual_seed(0), mi_examples=examples)
            times[layout].append((time.perf_counter() - started) / examples)
            bound[layout] = report.iwae_log_px
    networks.MEMORY_FORMAT = torch.channels_last
    return {layout: (statistics.median(t), bound[layout]) for layout, t in times.items()}


def bench_iwae_bound(examples: int, data_dir: str | None, k: int = 1000, rows: int = 4096) -> tuple[float, float]:
    """Seconds of evaluate at K = k on ``examples`` test images, and of the decoder's convolutions alone on the same
    k x examples latents (its transposed-convolution stack run on the first linear layer's outputs, in the same chunks)."""
    from vaekit.data import DataConfig, load_dataset
    from vaekit.evaluation import evaluate
    from vaekit.models import PRESETS

    test = load_dataset(DataConfig(name="binarized-mnist", data_dir=data_dir)).test.head(examples)
    torch.manual_seed(0)
    model = build_model(PRESETS["binarized-vae"].model).eval()
    evaluate(model, test.head(2), iw_samples=k, generator=torch.Generator().manual_seed(0), mi_examples=2)  # warm-up
    started = time.perf_counter()
    evaluate(model, test, iw_samples=k, generator=torch.Generator().manual_seed(0), mi_examples=examples, max_rows=rows)
    full = time.perf_counter() - started
    decoder = model.decoder
    with torch.no_grad():
        h = decoder.fc(torch.randn(rows, model.latent_dim)).view(-1, *decoder.start).contiguous(memory_format=networks.MEMORY_FORMAT)
        decoder.body(h)  # warm-up
        chunks = -(-k * examples // rows)
        started = time.perf_counter()
        for _ in range(chunks):
            decoder.body(h)
        convs = time.perf_counter() - started
    return full, convs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--archs", nargs="+", default=["conv", "resnet"], help="conv, resnet, mlp (the seed VAE; --sizes ignored)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="add the compiled variants (nhwc-all and bf16-nhwc, compiled)")
    parser.add_argument("--iwae", type=int, default=0, help="also time evaluate at K = 5000 on this many MNIST test images")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--iwae-bound", type=int, default=0, help="time evaluate at K = 1000 on this many images against its convolutions alone"
    )
    args = parser.parse_args()
    if args.iwae_bound:
        torch.set_num_threads(args.threads[0])
        full, convs = bench_iwae_bound(args.iwae_bound, args.data_dir)
        print(
            f"binarized-vae, K = 1000 on {args.iwae_bound} test images, {args.threads[0]} thread(s): evaluate {full:.2f} s, "
            f"its decoder's convolutions alone {convs:.2f} s, ratio {full / convs:.2f}"
        )
        return
    if args.iwae:
        torch.set_num_threads(args.threads[0])
        print(f"binarized-vae, evaluate at K = 5000 on {args.iwae} test images, {args.threads[0]} thread(s), median of {args.rounds}")
        print("| layout | s / example | projected min for 10,000 | log p(x) bound |")
        print("|---|---:|---:|---:|")
        for layout, (per, bound) in bench_iwae(args.iwae, args.data_dir, args.rounds).items():
            print(f"| {layout} | {per:.3f} | {per * 10_000 / 60:.0f} | {bound:.4f} |", flush=True)
        return
    print(f"torch {torch.__version__}, batch 64 RGB, width 32, latent 32; median of {args.rounds} rounds x {args.steps} steps")
    print("| size | arch | threads | layout | ms / step | vs nchw | max weight diff | max rel. loss diff |")
    print("|---:|---|---:|---|---:|---:|---:|---:|")
    for size in args.sizes:
        for arch in args.archs:
            for threads in args.threads:
                layouts = LAYOUTS + COMPILED if args.compile else LAYOUTS
                if arch == "mlp":
                    layouts = ("nchw", "bf16", *COMPILED) if args.compile else ("nchw", "bf16")
                result = bench(size, arch, threads, args.rounds, args.steps, layouts)
                ref = result["nchw"][0]
                for layout, (t, wd, ld) in result.items():
                    print(f"| {size} | {arch} | {threads} | {layout} | {t * 1000:.0f} | {ref / t:.2f}x | {wd:.1e} | {ld:.1e} |", flush=True)


if __name__ == "__main__":
    main()
