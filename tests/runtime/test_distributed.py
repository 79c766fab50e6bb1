"""Two CPU processes launched by torchrun (gloo) against one process with both ranks' batches."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from vaekit.cli import main
from vaekit.commands import RunConfig, evaluate_run, train
from vaekit.data import DataConfig
from vaekit.models import ModelConfig
from vaekit.run import layout
from vaekit.runtime.files import load_tensors
from vaekit.training import TrainConfig

from conftest import assert_same_run

DATA = ["--data", "mnist", "--limit", "1001", "--valid-size", "500"]  # 15 steps of 64 and a last one of 41: 21 + 20 on two ranks
SMALL = ["--hidden", "64", "--latent-dim", "8"]


def torchrun(*args: str, n: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node n`` (through this interpreter), checked."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-8000:]
    return done


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_tensors(run / layout.WEIGHTS)[0]


@pytest.mark.slow  # 24 s; the default suite keeps one torchrun test: the VQ-VAE's equivalence
def test_two_ranks_train_resume_and_evaluate_like_one_process_with_both_batches(tmp_path, data_dir, capsys):
    two, one = tmp_path / "two", tmp_path / "one"
    common = ["--model", "ae", *SMALL, *DATA, "--data-dir", str(data_dir), "--no-progress", "--no-images"]
    torchrun("-m", "vaekit", "train", *common, "--epochs", "1", "--batch-size", "32", "--out", str(two))
    config = json.loads((two / "config.json").read_text())
    assert config["world_size"] == 2 and config["train"]["batch_size"] == 32
    torchrun("-m", "vaekit", "train", "--resume", str(two), "--epochs", "2", "--no-progress")
    lines = [json.loads(ln) for ln in (two / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2] and lines[1]["step"] == 2 * 16  # rank 0 alone writes; 16 steps an epoch

    assert main(["train", *common, "--epochs", "2", "--batch-size", "64", "--out", str(one)]) == 0
    ours, theirs = weights(two), weights(one)
    assert ours.keys() == theirs.keys()
    for key in ours:  # the same examples in every step, the uneven last one too; only the order of sums differs
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=1e-5)
    single = [json.loads(ln) for ln in (one / "metrics.jsonl").read_text().splitlines()]
    assert lines[1]["valid_loss"] == pytest.approx(single[1]["valid_loss"], rel=1e-5)
    assert lines[1]["train_loss"] == pytest.approx(single[1]["train_loss"], rel=1e-5)  # reduced over both ranks

    evaluated = torchrun("-m", "vaekit", "evaluate", str(two), "--limit", "700", "--data-dir", str(data_dir), "--json")
    spread = json.loads(evaluated.stdout)  # one report, printed by rank 0
    capsys.readouterr()
    assert main(["evaluate", str(two), "--limit", "700", "--data-dir", str(data_dir), "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    for key in ("reconstruction_nll", "mse", "psnr", "ssim"):
        assert spread[key] == pytest.approx(alone[key], rel=1e-6), key

    capsys.readouterr()
    assert main(["train", "--resume", str(two), "--epochs", "3"]) == 2  # a 2-process run resumed by one process
    assert "torchrun --nproc_per_node 2" in capsys.readouterr().err


SCRIPT = """
import json, sys
from pathlib import Path
from vaekit.commands import RunConfig, evaluate_run, resume, train
from vaekit.data import DataConfig
from vaekit.models import ModelConfig
from vaekit.runtime import distributed
from vaekit.training import TrainConfig

out, data_dir = Path(sys.argv[1]), Path(sys.argv[2])
config = RunConfig(
    data=DataConfig(name="mnist", limit=8192, valid_size=1000, data_dir=data_dir),
    model=ModelConfig(kind="vae", hidden=(64,), latent_dim=8),
    train=TrainConfig(epochs=5, batch_size=32, progress=False, checkpoint_every_s=0),
)
train(config, out / "stopped", images=False, stop_at_step=150)  # mid-epoch 2 (128 steps an epoch)
resume(out / "stopped", images=False)
train(config, out / "straight", images=False)
spread = evaluate_run(out / "straight", iw_samples=10, limit=501, data_dir=data_dir)  # 501 test images over 2 ranks
if distributed.current().is_main:
    (out / "spread.json").write_text(json.dumps(spread.as_dict()))
distributed.shutdown(wait=True)  # as the vaekit command does: no rank tears gloo down while another is busy
"""


@pytest.mark.slow  # 22 s; a bitwise two-rank resume is also the critic test below (slow too)
def test_two_vae_ranks_resume_bitwise_and_reach_the_single_process_elbo(tmp_path, data_dir):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    torchrun(str(script), str(tmp_path), str(data_dir))
    # Stopped mid-epoch and resumed: weights, best weights, the training state (every rank's RNG,
    # the sums over both ranks) and every metrics line equal the uninterrupted run's, bit for bit.
    assert_same_run(tmp_path / "stopped", tmp_path / "straight")

    spread = json.loads((tmp_path / "spread.json").read_text())
    alone = evaluate_run(tmp_path / "straight", iw_samples=10, limit=501, data_dir=data_dir).as_dict()
    assert spread["n"] == alone["n"] == 501 and spread["active_units"] == alone["active_units"]
    for key in ("kl", "mse", "mutual_information"):  # no sampling in these: every row in its place
        assert spread[key] == pytest.approx(alone[key], rel=1e-5), key
    for key in ("elbo", "iwae_log_px"):  # the ranks draw other posterior samples: Monte-Carlo noise only
        assert spread[key] == pytest.approx(alone[key], abs=0.5), key

    def elbo(run: Path) -> float:
        return evaluate_run(run, iw_samples=10, limit=2000, data_dir=data_dir).elbo

    singles = []
    for seed in range(3):
        config = RunConfig(
            data=DataConfig(name="mnist", limit=8192, valid_size=1000, data_dir=data_dir),
            model=ModelConfig(kind="vae", hidden=(64,), latent_dim=8),
            train=TrainConfig(epochs=5, batch_size=64, progress=False, seed=seed),
        )
        train(config, tmp_path / f"single{seed}", images=False)
        singles.append(elbo(tmp_path / f"single{seed}"))
    # Within noise: runs that differ only in their seed spread by about 1.2 nats (sd) at this budget
    # (measured over 4 seeds: 155.1-158.0 valid nats); 3 sd of the spread, and never under 3 nats.
    mean, spread = statistics.mean(singles), statistics.stdev(singles)
    two = elbo(tmp_path / "straight")
    assert abs(two - mean) <= max(3 * spread, 3.0), (two, singles)


@pytest.mark.slow  # 10-12 s; kept out of the 4-minute default suite
def test_vq_vae_codebook_averages_over_both_ranks_batches(tmp_path, data_dir):
    """The EMA codebook update sums both ranks' assignments: the same buffers as one process of both batches."""
    common = [
        "--model",
        "vq-vae",
        "--hidden",
        "64",
        "--latent-dim",
        "8",
        "--code-dim",
        "2",
        "--codebook-size",
        "32",
        *DATA,
        "--data-dir",
        str(data_dir),
        "--epochs",
        "1",
        "--no-progress",
        "--no-images",
    ]
    torchrun("-m", "vaekit", "train", *common, "--batch-size", "32", "--out", str(tmp_path / "two"))
    assert main(["train", *common, "--batch-size", "64", "--out", str(tmp_path / "one")]) == 0
    ours, theirs = weights(tmp_path / "two"), weights(tmp_path / "one")
    assert {"codebook", "ema_count", "ema_sum"} <= {k.rsplit(".", 1)[-1] for k in ours}
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=1e-4, msg=key)


CRITIC_SCRIPT = """
import sys
from pathlib import Path
from vaekit.commands import RunConfig, resume, train
from vaekit.data import DataConfig
from vaekit.models import ModelConfig
from vaekit.objectives import ObjectiveConfig
from vaekit.runtime import distributed
from vaekit.training import TrainConfig

out, data_dir = Path(sys.argv[1]), Path(sys.argv[2])
config = RunConfig(
    data=DataConfig(name="mnist", limit=700, valid_size=200, data_dir=data_dir),
    model=ModelConfig(kind="factor-vae", hidden=(64,), latent_dim=4),
    objective=ObjectiveConfig(gamma=10.0, adversarial="patch"),  # two critics: the TC discriminator and the PatchGAN
    train=TrainConfig(epochs=2, batch_size=32, progress=False, checkpoint_every_s=0),
)
train(config, out / "stopped", images=False, stop_at_step=11)  # mid-epoch 2 (8 steps of 2 x 32 an epoch)
resume(out / "stopped", images=False)
train(config, out / "straight", images=False)
distributed.shutdown(wait=True)
"""


@pytest.mark.slow  # 25 s; the default suite resumes the critic pair in one process (tests/training/test_trainer.py)
def test_a_critic_stays_the_same_on_every_rank(tmp_path, data_dir):
    """The discriminators (FactorVAE's and --adversarial's, stepped as one pair) are not part of the
    DDP model: their gradients are averaged by hand. Rank 0's critics are the ones checkpointed, so a
    rank whose critic drifted would resume differently."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(CRITIC_SCRIPT))
    torchrun(str(script), str(tmp_path), str(data_dir))
    assert_same_run(tmp_path / "stopped", tmp_path / "straight")
    state = load_tensors(tmp_path / "straight" / layout.STATE)[0]
    assert any(k.startswith("critic.first.") for k in state) and any(k.startswith("critic.second.") for k in state)


@pytest.mark.slow  # 20 s
def test_two_ranks_train_from_one_memory_mapped_folder_cache(tmp_path, monkeypatch):
    from conftest import make_folder

    root = make_folder(tmp_path / "pets", n_per_class=60, attributes=False)
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VAEKIT_MEMORY_MAP", "always")
    common = ["--model", "ae", *SMALL, "--data", f"folder:{root}", "--image-size", "16", "--no-progress", "--no-images", "--epochs", "1"]
    done = torchrun("-m", "vaekit", "train", *common, "--batch-size", "16", "--out", str(tmp_path / "two"))
    assert "memory-mapped from" in done.stderr and "on 2 processes" in done.stderr
    assert len(list((tmp_path / "cache" / "folders").iterdir())) == 1  # both ranks read one cache
    assert main(["train", *common, "--batch-size", "32", "--out", str(tmp_path / "one")]) == 0
    ours, theirs = weights(tmp_path / "two"), weights(tmp_path / "one")
    for key in ours:  # the same examples in every step, gathered from the same memory map; sums in another order
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-4, atol=1e-4)
