"""``vaekit train`` never loses a run and never leaves half of one: failures before the first
checkpoint remove what was written, a full disk later keeps the last checkpoint, a cut metrics line
does not break resume or the report, and two trainings never share a directory."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from vaekit.cli import main
from vaekit.commands import read_run_config, resume, train
from vaekit.errors import ConfigError, RunDirError
from vaekit.run import layout
from vaekit.runtime import files

from conftest import TINY_FLAGS, assert_same_run, cli, tiny_run_config


def _disk_full_after(monkeypatch, writes: int) -> None:
    """Every atomic write after the first ``writes`` fails as on a full disk."""
    count = {"n": 0}
    original = os.fsync

    def fsync(fd):
        count["n"] += 1
        if count["n"] > writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)


def test_a_full_disk_before_the_first_checkpoint_leaves_no_run_directory(tmp_path, monkeypatch):
    _disk_full_after(monkeypatch, 2)  # config.json and its directory, then the weights fail
    with pytest.raises(RunDirError, match=r"model.safetensors: cannot write, the disk is full"):
        train(tiny_run_config(epochs=2), tmp_path / "run", images=False)
    assert not (tmp_path / "run").exists()
    (tmp_path / "empty").mkdir()  # a directory the user made: it stays, empty
    with pytest.raises(RunDirError, match="disk is full"):
        train(tiny_run_config(epochs=2), tmp_path / "empty", images=False)
    assert (tmp_path / "empty").is_dir() and not list((tmp_path / "empty").iterdir())


def test_a_full_disk_during_training_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    config = tiny_run_config(epochs=3, checkpoint_every_s=0)
    train(config, tmp_path / "full", images=False)
    train(replace(config, train=replace(config.train, epochs=1)), tmp_path / "part", images=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "part").iterdir()}
    _disk_full_after(monkeypatch, 0)
    with pytest.raises(RunDirError, match="disk is full"):
        resume(tmp_path / "part", epochs=3, images=False)  # config.json cannot be rewritten: nothing else was touched
    assert {p.name: p.read_bytes() for p in (tmp_path / "part").iterdir()} == before
    monkeypatch.undo()
    resume(tmp_path / "part", epochs=3, images=False)
    assert_same_run(tmp_path / "full", tmp_path / "part")


def test_a_cut_metrics_line_does_not_break_resume_or_the_report(tmp_path, capsys):
    train(tiny_run_config(epochs=1), tmp_path / "run", images=False)
    with open(tmp_path / "run" / layout.METRICS, "a") as f:
        f.write('{"epoch": 2, "step": 1')  # the process was killed while appending
    code, out, err = cli(capsys, "report", tmp_path / "run", "--iw-samples", 2, "--limit", 50)
    assert code == 0 and "vaekit: warning:" in err and "skipped its last line" in err and "Traceback" not in err
    code, _, err = cli(capsys, "train", "--resume", tmp_path / "run", "--epochs", 2)
    assert code == 0, err
    epochs = [json.loads(ln)["epoch"] for ln in (tmp_path / "run" / layout.METRICS).read_text().splitlines()]
    assert epochs == [1, 2]


def test_resuming_to_fewer_epochs_is_refused_and_leaves_the_config_as_it_was(tmp_path, capsys):
    train(tiny_run_config(epochs=2), tmp_path / "run", images=False)
    config = (tmp_path / "run" / layout.CONFIG).read_bytes()
    with pytest.raises(ConfigError, match=r"has already trained 2 epochs; --epochs 1 is fewer"):
        resume(tmp_path / "run", epochs=1, images=False)
    assert (tmp_path / "run" / layout.CONFIG).read_bytes() == config
    assert read_run_config(tmp_path / "run").train.epochs == 2


def test_two_trainings_into_one_directory_one_wins_and_the_other_writes_nothing(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "vaekit", "train", "--epochs", "3", *TINY_FLAGS, "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first, second = (subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) for _ in range(2))
    results = [(p.wait(timeout=300), p.stderr.read()) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "Traceback" not in loser and ("in use by process" in loser or "already holds a run" in loser or "was just taken" in loser)
    assert [json.loads(ln)["epoch"] for ln in (out / layout.METRICS).read_text().splitlines()] == [1, 2, 3]
    assert not (out / layout.LOCK).exists()
    assert main(["evaluate", str(out), "--iw-samples", "2"]) == 0  # the winner's run is whole (in-process: a subprocess costs 3 s)


def test_piped_training_prints_a_line_per_epoch_and_what_to_do_next(tmp_path):
    env = {**os.environ, "VAEKIT_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "vaekit", "train", "--epochs", "3", "--hidden", "32", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    epochs = [ln for ln in lines if ln.startswith("epoch ")]  # fast epochs: the first and the last at least
    assert epochs[0].startswith("epoch 1/3: train_loss ") and epochs[-1].startswith("epoch 3/3: train_loss ") and "valid_loss" in epochs[-1]
    assert lines[-1] == f"next: vaekit evaluate {out}  |  vaekit sample {out} --out {out}/samples.png  |  vaekit report {out}"
