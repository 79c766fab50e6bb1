"""A stopped evaluation goes on where it stopped, with the numbers of an uninterrupted one."""

import json
import os
import signal

import pytest
import torch

from vaekit import run
from vaekit.commands import journal as journal_module
from vaekit.commands.journal import RunJournal, evaluation_key
from vaekit.evaluation import evaluate
from vaekit.run.layout import PARTIAL

from conftest import cli

K = 30
BATCH = 40  # the digits test split (360 examples) in 9 batches


def _journal(run_dir, model, data, k=K, **options) -> RunJournal:
    return RunJournal(run_dir, evaluation_key(model, data, iw_samples=k, batch=BATCH), echo=lambda line: None, **options)


def _evaluate(model, data, journal=None, k=K):
    return evaluate(model, data, "test", k, torch.Generator().manual_seed(0), batch_size=BATCH, journal=journal)


class StopAfter(RunJournal):
    """Ctrl-C after ``batches`` batches (raised where the pass asks whether to keep its progress)."""

    def __init__(self, *args, batches: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = batches

    def due(self) -> bool:
        self.batches -= 1
        if self.batches == 0:
            raise KeyboardInterrupt
        return super().due()


def test_an_interrupted_evaluation_goes_on_with_the_same_numbers(tiny_digits_run):
    model, data = run.load(tiny_digits_run), run.load_split(tiny_digits_run, "test")
    clean = _evaluate(model, data)
    stopper = StopAfter(tiny_digits_run, evaluation_key(model, data, iw_samples=K, batch=BATCH), echo=lambda line: None, batches=4)
    with pytest.raises(KeyboardInterrupt):
        _evaluate(model, data, stopper)
    kept = stopper.path("data")
    assert kept.is_file()
    resumed = _journal(tiny_digits_run, model, data)
    assert resumed.restore("data", len(data)).done == 4 * BATCH
    assert _evaluate(model, data, _journal(tiny_digits_run, model, data)) == clean  # every number, exactly
    resumed.discard()
    assert not (tiny_digits_run / PARTIAL).exists()


def test_a_stop_inside_a_batch_keeps_the_batches_before_it(tiny_digits_run, monkeypatch):
    model, data = run.load(tiny_digits_run), run.load_split(tiny_digits_run, "test")
    clean = _evaluate(model, data)
    calls, decode = {"n": 0}, model.decode

    def stop_in_batch_three(z, y=None):
        calls["n"] += 1
        if calls["n"] == 6:  # one support check, then two decodes a batch (the K samples, the means): in batch three
            raise KeyboardInterrupt
        return decode(z, y)

    monkeypatch.setattr(model, "decode", stop_in_batch_three)
    journal = _journal(tiny_digits_run, model, data, every_s=1e9)  # only the stop writes
    with pytest.raises(KeyboardInterrupt):
        _evaluate(model, data, journal)
    monkeypatch.undo()
    assert journal.restore("data", len(data)).done == 2 * BATCH
    assert _evaluate(model, data, _journal(tiny_digits_run, model, data)) == clean
    journal.discard()


def test_kept_progress_of_another_evaluation_is_neither_used_nor_disturbed(tiny_digits_run):
    model, data = run.load(tiny_digits_run), run.load_split(tiny_digits_run, "test")
    with pytest.raises(KeyboardInterrupt):
        _evaluate(model, data, StopAfter(tiny_digits_run, evaluation_key(model, data, iw_samples=K, batch=BATCH), batches=2))
    other = _journal(tiny_digits_run, model, data, k=K + 1)
    assert other.restore("data", len(data)) is None  # another K: another key, another file
    assert _evaluate(model, data, other, k=K + 1) == _evaluate(model, data, k=K + 1)
    other.discard()
    mine = _journal(tiny_digits_run, model, data)
    assert mine.restore("data", len(data)).done == 2 * BATCH  # still there for its own command
    mine.discard()


def test_a_damaged_kept_file_is_skipped_with_a_warning(tiny_digits_run):
    model, data = run.load(tiny_digits_run), run.load_split(tiny_digits_run, "test")
    clean = _evaluate(model, data)
    journal = _journal(tiny_digits_run, model, data)
    with pytest.raises(KeyboardInterrupt):
        _evaluate(model, data, StopAfter(tiny_digits_run, evaluation_key(model, data, iw_samples=K, batch=BATCH), batches=3))
    path = journal.path("data")
    path.write_bytes(path.read_bytes()[:200])  # cut short, as by a full disk
    with pytest.warns(UserWarning, match="cannot be used.*starts over"):
        assert _evaluate(model, data, journal) == clean
    journal.discard()


def test_a_run_directory_that_cannot_hold_progress_still_evaluates(tiny_digits_run, tmp_path):
    model, data = run.load(tiny_digits_run), run.load_split(tiny_digits_run, "test")
    (tmp_path / PARTIAL).write_text("a file where the directory would go")
    journal = RunJournal(tmp_path, evaluation_key(model, data, iw_samples=K), every_s=0, echo=lambda line: None)
    with pytest.warns(UserWarning, match="cannot keep the evaluation's progress.*goes on"):
        assert _evaluate(model, data, journal) == _evaluate(model, data)


def test_the_command_says_where_it_stopped_and_goes_on(tiny_digits_run, capsys, monkeypatch):
    argv = ("evaluate", tiny_digits_run, "--iw-samples", K, "--json")
    code, clean, _ = cli(capsys, *argv)
    assert code == 0 and not (tiny_digits_run / PARTIAL).exists()  # a short evaluation writes nothing
    monkeypatch.setattr(journal_module, "EVERY_S", 0.0)
    calls = {"n": 0}
    due = RunJournal.due

    def stop_on_the_second_batch(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return due(self)

    monkeypatch.setattr(RunJournal, "due", stop_on_the_second_batch)
    code, _, err = cli(capsys, *argv)
    assert code == 130
    assert "evaluate: 100 of 360 examples (data)" in err  # a progress line after the first batch
    assert "stopped at example 200 of 360 (data)" in err and "run the same command to go on" in err
    code, resumed, err = cli(capsys, *argv)
    assert code == 0 and "going on from example 200 of 360" in err
    assert json.loads(resumed) == json.loads(clean)
    assert not (tiny_digits_run / PARTIAL).exists()  # removed once the command is done


def test_a_killed_evaluation_keeps_its_progress_too(tiny_digits_run, capsys, monkeypatch):
    """SIGTERM (kill, a scheduler's time limit) stops it as Ctrl-C does, keeping every finished batch."""
    argv = ("evaluate", tiny_digits_run, "--iw-samples", K, "--json")
    calls = {"n": 0}

    def killed_on_the_third_batch(self):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return False

    monkeypatch.setattr(RunJournal, "due", killed_on_the_third_batch)
    code, _, err = cli(capsys, *argv)
    assert code == 130 and "stopped at example 300 of 360 (data)" in err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back as it was
    code, _, err = cli(capsys, *argv)
    assert code == 0 and "going on from example 300 of 360" in err
