"""Training: bitwise-identical resume, stop requests, NaN handling, run directory contents."""

import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vaekit import run
from vaekit.commands import RunConfig, fit, read_run_config, resume, train
from vaekit.data import DataConfig
from vaekit.errors import ConfigError, DataError, RunDirError, TrainingDiverged
from vaekit.objectives import ObjectiveConfig
from vaekit.run import layout
from vaekit.run.config import config_to_dict
from vaekit.runtime.files import atomic_write_bytes, atomic_write_json, load_tensors, save_tensors
from vaekit.training import TrainConfig

from conftest import TINY, assert_same_run, make_trainer, tiny_run_config, weights


@pytest.mark.parametrize("binarize", ["none", "dynamic"])
@pytest.mark.parametrize("stop_at", [11, 8])  # mid-epoch, and exactly at an epoch boundary (8 steps per epoch)
def test_interrupted_and_resumed_run_is_bitwise_identical(tmp_path, stop_at, binarize):
    config = tiny_run_config(epochs=3)
    config = RunConfig(DataConfig(name="digits", limit=512, binarize=binarize), config.model, train=config.train)
    full = train(config, tmp_path / "full", images=False)
    assert not full.interrupted and full.progress.global_step == 24
    part = train(config, tmp_path / "part", images=False, stop_at_step=stop_at)
    assert part.interrupted and part.progress.global_step == stop_at
    resumed = resume(tmp_path / "part", images=False)
    assert not resumed.interrupted and resumed.progress == full.progress.__class__(
        **{**full.progress.__dict__, "elapsed_s": resumed.progress.elapsed_s}
    )
    assert_same_run(tmp_path / "full", tmp_path / "part")


def test_resume_with_more_epochs_continues_the_same_run(tmp_path):
    train(tiny_run_config(epochs=3), tmp_path / "three", images=False)
    train(tiny_run_config(epochs=2), tmp_path / "two", images=False)
    resume(tmp_path / "two", epochs=3, images=False)
    assert read_run_config(tmp_path / "two").train.epochs == 3
    three, two = weights(tmp_path / "three"), weights(tmp_path / "two")
    assert three.keys() == two.keys() and all(torch.equal(three[k], two[k]) for k in three)


def _wrap_objective(monkeypatch, hook):
    """Make every run's objective call ``hook(step, terms)`` after computing the terms."""
    original = fit.make_objective
    calls = {"n": 0}

    def make(name, config, latent_dim=None):
        objective = original(name, config, latent_dim)

        def wrapped(output, x, step=None):
            terms = objective(output, x, step)
            if torch.is_grad_enabled():
                calls["n"] += 1
                terms = hook(calls["n"], terms)
            return terms

        return wrapped

    monkeypatch.setattr(fit, "make_objective", make)


def test_sigint_stops_at_a_step_boundary_and_resumes_identically(tmp_path, monkeypatch):
    train(tiny_run_config(epochs=2), tmp_path / "full", images=False)

    def interrupt(step, terms):
        if step == 5:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does
        return terms

    _wrap_objective(monkeypatch, interrupt)
    result = train(tiny_run_config(epochs=2), tmp_path / "part", images=False)
    assert result.interrupted and result.progress.global_step == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    monkeypatch.undo()
    resume(tmp_path / "part", images=False)
    assert_same_run(tmp_path / "full", tmp_path / "part")


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    def poison(step, terms):
        if step >= 13:  # epoch 2 of 8-step epochs
            return terms.__class__(terms.loss * float("nan"), terms.reconstruction, terms.kl)
        return terms

    _wrap_objective(monkeypatch, poison)
    out = tmp_path / "run"
    with pytest.raises(
        TrainingDiverged,
        match=r"NaN or infinite at step 13 \(epoch 2, 8 steps per epoch\).*last good checkpoint \(epoch 1\).*Try a lower --lr",
    ):
        train(tiny_run_config(epochs=3, checkpoint_every_s=0), out, images=False)
    kept = weights(out)
    assert all(torch.isfinite(v).all() for v in kept.values())
    _, meta = load_tensors(out / layout.STATE)
    assert json.loads(meta["progress"])["epoch"] == 1
    monkeypatch.undo()
    assert not resume(out, images=False).interrupted  # the kept checkpoint is usable


def test_nan_before_any_epoch_checkpoint_names_the_initial_state(tmp_path, monkeypatch):
    _wrap_objective(monkeypatch, lambda step, t: t.__class__(t.loss * float("inf"), t.reconstruction, t.kl))
    with pytest.raises(TrainingDiverged, match=r"at step 1 .*last good checkpoint \(epoch 0\)"):
        train(tiny_run_config(epochs=3), tmp_path / "run", images=False)


def test_run_directory_contents(tmp_path):
    out = tmp_path / "run"
    train(tiny_run_config(epochs=2), out)
    config = json.loads((out / layout.CONFIG).read_text())
    assert config["model"]["input_shape"] == [1, 8, 8] and config["train"]["epochs"] == 2
    lines = [json.loads(ln) for ln in (out / layout.METRICS).read_text().splitlines()]
    assert [ln["epoch"] for ln in lines] == [1, 2]
    assert {"train_loss", "train_reconstruction", "train_kl", "valid_loss", "valid_kl"} <= lines[0].keys()
    assert lines[1]["train_loss"] < lines[0]["train_loss"]
    assert sorted(p.name for p in (out / layout.IMAGES).iterdir()) == [
        "reconstructions_0001.png",
        "reconstructions_0002.png",
        "samples_0001.png",
        "samples_0002.png",
    ]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]  # no leftovers of atomic writes


def test_an_existing_run_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    train(tiny_run_config(epochs=1), out, images=False)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(RunDirError, match=r"already holds a run; continue it with `vaekit train --resume"):
        train(tiny_run_config(epochs=1), out, images=False)
    assert before == {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


def test_data_outside_the_likelihood_support_fails_before_a_run_directory_exists(tmp_path):
    import numpy as np

    np.save(tmp_path / "x3.npy", np.random.default_rng(0).uniform(0, 3, (40, 8, 8)).astype(np.float32))  # floats used as they are
    config = RunConfig(DataConfig(name=f"npy:{tmp_path / 'x3.npy'}"), TINY["vae"], train=TrainConfig(epochs=1, progress=False))
    with pytest.raises(DataError, match=r"Bernoulli likelihood needs data in \[0, 1\] but got values in \[0.*, 2.9.*\]"):
        train(config, tmp_path / "run", images=False)
    assert not (tmp_path / "run").exists()


def test_train_config_validation():
    from vaekit.errors import ConfigError

    with pytest.raises(ConfigError, match="--batch-size must be at least 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match="--lr must be positive"):
        TrainConfig(lr=0)


def test_learning_rate_schedule_and_gradient_clipping(tmp_path):
    from vaekit.training import learning_rate

    trainer = make_trainer(tmp_path, lr_schedule="cosine", lr_warmup_steps=3, grad_clip=0.01)
    x = trainer.data.train.batch(slice(0, 64))
    for step in range(5):
        trainer._step(x)
        trainer.progress = trainer.progress.__class__(global_step=step + 1)
        assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(learning_rate(step, trainer.total_steps, 1e-3, "cosine", 3))
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in trainer.model.parameters()]))
        assert norm.item() <= 0.01 + 1e-6


def test_early_stopping_when_validation_stops_improving(tmp_path, monkeypatch):
    from vaekit.training import trainer as trainer_module

    scores = iter([5.0, 4.0, 4.5, 4.6, 4.7, 3.0])
    monkeypatch.setattr(trainer_module, "mean_terms", lambda *a, **k: {"loss": next(scores)})
    result = train(tiny_run_config(epochs=6, patience=2), tmp_path / "run", images=False)
    assert result.stopped_early and result.progress.epoch == 4 and result.progress.best_epoch == 2
    with pytest.raises(ConfigError, match="--patience must be at least 1"):
        TrainConfig(patience=0)


def test_config_round_trips_through_json(tmp_path):
    config = RunConfig(DataConfig(name="digits", data_dir=tmp_path / "d", limit=5), TINY["vae"], train=TrainConfig(epochs=1))
    atomic_write_json(tmp_path / layout.CONFIG, config_to_dict(config))
    again = read_run_config(tmp_path)
    assert again == config and isinstance(again.data.data_dir, Path) and isinstance(again.model.hidden, tuple)


@pytest.mark.parametrize("restarts", [0, 3])
def test_vq_vae_codebook_is_part_of_the_bitwise_resume(tmp_path, restarts):
    config = tiny_run_config("vq-vae", epochs=2)
    config = RunConfig(config.data, replace(config.model, dead_code_steps=restarts), train=config.train)
    train(config, tmp_path / "full", images=False)
    train(config, tmp_path / "part", images=False, stop_at_step=5)
    resume(tmp_path / "part", images=False)
    assert_same_run(tmp_path / "full", tmp_path / "part")
    assert "codebook" in weights(tmp_path / "full") and "ema_count" in weights(tmp_path / "full")
    assert ("unused" in weights(tmp_path / "full")) == (restarts > 0)  # older runs, without restarts, load unchanged
    assert "train_codes_used" in (tmp_path / "full" / layout.METRICS).read_text()


@pytest.mark.parametrize("name", ["vamp", "rae", "wae", "hvae"])
def test_learned_priors_prior_samples_and_parameter_groups_resume_bitwise(tmp_path, name):
    """The VampPrior's pseudo-inputs, the WAE's prior samples (drawn from the training generator)
    and the RAE's two Adam groups (weight-decayed decoder) all survive an interruption exactly."""
    train(tiny_run_config(name, epochs=2), tmp_path / "full", images=False)
    train(tiny_run_config(name, epochs=2), tmp_path / "part", images=False, stop_at_step=5)
    resume(tmp_path / "part", images=False)
    assert_same_run(tmp_path / "full", tmp_path / "part")


def test_a_critic_and_its_optimizer_are_part_of_the_bitwise_resume(tmp_path):
    train(tiny_run_config("factor-vae", epochs=2), tmp_path / "full", images=False)
    train(tiny_run_config("factor-vae", epochs=2), tmp_path / "part", images=False, stop_at_step=5)
    resume(tmp_path / "part", images=False)
    assert_same_run(tmp_path / "full", tmp_path / "part")
    state = weights(tmp_path / "full", layout.STATE)
    assert any(k.startswith("critic.net.") for k in state) and any(k.startswith("critic_optim.") for k in state)
    assert not any(k.startswith("critic") for k in weights(tmp_path / "full"))  # the model's weights stay the VAE's
    rows = [json.loads(line) for line in (tmp_path / "full" / layout.METRICS).read_text().splitlines()]
    assert all(0 < row["train_critic"] < 2 for row in rows)  # cross-entropy of two balanced classes starts near 2 log 2


@pytest.mark.parametrize("name", ["vae", "factor-vae", "ae"])
def test_the_adversarial_term_resumes_bitwise_with_both_optimizers(tmp_path, name):
    """--adversarial patch: the discriminator (beside FactorVAE's own critic, as one pair) and its
    Adam are in the training state; the VAE's prior samples come from the training generator."""
    config = replace(tiny_run_config(name, epochs=2), objective=ObjectiveConfig(adversarial="patch", adversarial_start=3))
    train(config, tmp_path / "full", images=False)
    train(config, tmp_path / "part", images=False, stop_at_step=5)
    resume(tmp_path / "part", images=False)
    assert_same_run(tmp_path / "full", tmp_path / "part")
    state = weights(tmp_path / "full", layout.STATE)
    prefix = "critic.second.net." if name == "factor-vae" else "critic.net."
    assert any(k.startswith(prefix) for k in state) and any(k.startswith("critic_optim.") for k in state)
    rows = [json.loads(line) for line in (tmp_path / "full" / layout.METRICS).read_text().splitlines()]
    assert all("train_adversarial" in row and row["train_critic"] > 0 for row in rows)


def test_a_state_without_the_objective_s_critic_is_refused_as_damaged(tmp_path):
    train(tiny_run_config(epochs=2), tmp_path / "run", images=False, stop_at_step=3)
    config = json.loads((tmp_path / "run" / layout.CONFIG).read_text())
    config["model"]["kind"] = "factor-vae"
    (tmp_path / "run" / layout.CONFIG).write_text(json.dumps(config))
    with pytest.raises(RunDirError, match="critic is missing.*damaged"):
        resume(tmp_path / "run", images=False)


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "f.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o644  # not mkstemp's 0600


def test_the_cli_says_when_it_stopped_early(tmp_path, monkeypatch, capsys):
    from vaekit.cli import main
    from vaekit.training import trainer as trainer_module

    scores = iter([5.0, 6.0, 7.0, 8.0])
    monkeypatch.setattr(trainer_module, "mean_terms", lambda *a, **k: {"loss": next(scores)})
    assert main(["train", "--epochs", "4", "--patience", "2", "--no-progress", "--no-images", "--out", str(tmp_path / "run")]) == 0
    assert "stopped early: no better validation loss for 2 epochs (--patience)" in capsys.readouterr().err


def test_resuming_a_run_checkpointed_on_another_device_type_says_which_device(tmp_path):
    train(tiny_run_config(epochs=2), tmp_path / "run", images=False, stop_at_step=3)
    path = tmp_path / "run" / layout.STATE
    tensors, metadata = load_tensors(path)
    save_tensors(path, tensors, {**metadata, "rng_device": "cuda"})  # as a GPU run would have written it
    with pytest.raises(RunDirError, match="checkpointed on cuda .* resume it with --device cuda"):
        resume(tmp_path / "run", device="cpu", images=False)
    assert run.load(tmp_path / "run").training is False  # its weights still load here


def test_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    from vaekit.training import resolve_device

    for cuda, mps, expected in ((True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda mps=mps: mps)
        assert resolve_device("auto").type == expected
    with pytest.raises(ConfigError, match="--device cuda is not available on this machine"):
        resolve_device("cuda")  # none of them here now
