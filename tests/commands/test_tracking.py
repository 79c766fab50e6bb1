"""--tensorboard: the event files, read back with TensorBoard's own reader, hold each epoch once, across a resume."""

from __future__ import annotations

import pytest

from vaekit.cli import main

pytest.importorskip("tensorboard")


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(
        str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0, "histograms": 0}
    ).Reload()
    return events


def test_tensorboard_logs_each_epoch_once_with_images_and_config_across_a_resume(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--data", "digits", "--limit", "256", "--latent-dim", "6", "--kl-warmup-steps", "5", "--tensorboard", "--no-progress"]
    assert main(["train", *common, "--epochs", "2", "--out", str(out)]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "4"]) == 0  # keeps logging: the run's config says so
    events = _events(out)
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/kl", "train/reconstruction", "valid/loss", "train/lr", "time/elapsed_s"} <= scalars
    for tag in ("train/loss", "valid/loss", "train/lr"):
        assert [e.step for e in events.Scalars(tag)] == [1, 2, 3, 4]  # every epoch, none twice
    import json

    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [round(e.value, 4) for e in events.Scalars("valid/loss")] == [round(m["valid_loss"], 4) for m in lines]
    assert events.Scalars("train/lr")[0].value == pytest.approx(1e-3)
    steps = [m["step"] for m in lines]  # 2 optimizer steps an epoch: the weight after step s is min(1, (s - 1) / 5)
    assert [round(e.value, 6) for e in events.Scalars("train/kl_weight")] == [round(min(1.0, (s - 1) / 5), 6) for s in steps]
    per_dimension = [[e.value for e in events.Scalars(f"kl_per_dimension/z{u:02d}")] for u in range(6)]
    assert "kl_per_dimension/z06" not in scalars and all(len(v) == 4 for v in per_dimension)
    for epoch, line in enumerate(lines):  # the closed-form KL splits over dimensions: they add up to the validation KL
        assert sum(v[epoch] for v in per_dimension) == pytest.approx(line["valid_kl"], rel=1e-4)
    assert [e.step for e in events.Scalars("valid/active_units")] == [1, 2, 3, 4]
    assert "valid/kl_per_dimension" in events.Tags()["histograms"]
    images = events.Tags()["images"]
    assert "samples" in images and "reconstructions" in images
    assert {e.step for e in events.Images("samples")} >= {4}
    assert "config/text_summary" in events.Tags()["tensors"]  # the config as text (and as hparams)
    capsys.readouterr()


@pytest.mark.parametrize("tool", ["tensorboard", "mlflow"])
def test_a_logger_without_its_package_is_one_clear_error_before_anything_is_written(tmp_path, capsys, monkeypatch, tool):
    import builtins

    real = builtins.__import__

    def missing(name, *args, **kwargs):
        if name == tool or name.startswith(f"{tool}."):
            raise ImportError(name, name=tool)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", missing)
    assert main(["train", "--data", "digits", "--epochs", "1", f"--{tool}", "--out", str(tmp_path / "r")]) == 2
    assert f"--{tool} needs the {tool} package, which is not installed: pip install 'vaekit[{tool}]'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def _mlflow(run_dir):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(run_dir / 'mlflow' / 'mlflow.db').resolve()}")
    return client, (run_dir / "mlflow" / "run_id").read_text().strip()


def test_mlflow_logs_each_epoch_once_into_the_run_directory_across_a_resume_and_a_lost_epoch(tmp_path, capsys):
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    import json

    out = tmp_path / "run"
    common = ["--data", "digits", "--limit", "256", "--latent-dim", "4", "--mlflow", "--no-progress"]
    assert main(["train", *common, "--epochs", "2", "--out", str(out)]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "3"]) == 0  # a clean resume: the same MLflow run
    client, first = _mlflow(out)
    assert [m.step for m in client.get_metric_history(first, "train/loss")] == [1, 2, 3]
    # A process that logged epoch 4 and was killed before its checkpoint: MLflow now holds a step the run lost.
    client.log_metric(first, "train/loss", 123.0, step=4)
    assert main(["train", "--resume", str(out), "--epochs", "5"]) == 0
    client, current = _mlflow(out)
    assert current != first and client.get_run(first).info.lifecycle_stage == "deleted"
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    history = client.get_metric_history(current, "train/loss")
    assert [m.step for m in history] == [1, 2, 3, 4, 5]  # each epoch once, the lost value gone
    assert [round(m.value, 4) for m in history] == [round(line["train_loss"], 4) for line in lines]
    assert [m.step for m in client.get_metric_history(current, "kl_per_dimension/z03")] == [1, 2, 3, 4, 5]  # copied, not recomputed
    run = client.get_run(current)
    assert run.data.params["model.kind"] == "vae" and run.data.params["model.latent_dim"] == "4"
    artifacts = {a.path for a in client.list_artifacts(current)}
    assert "config.json" in artifacts and "images" in artifacts
    assert any("samples" in a.path for a in client.list_artifacts(current, "images"))
    capsys.readouterr()


def test_a_damaged_mlflow_store_is_one_line_before_training_and_a_failing_logger_never_stops_the_run(tmp_path, capsys, monkeypatch):
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    from vaekit.commands import tracking

    out = tmp_path / "run"
    common = ["--data", "digits", "--limit", "256", "--mlflow", "--no-progress", "--no-images"]
    assert main(["train", *common, "--epochs", "1", "--out", str(out)]) == 0
    (out / "mlflow" / "mlflow.db").write_bytes(b"not a database")
    before = (out / "metrics.jsonl").read_text()
    assert main(["train", "--resume", str(out), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "mlflow.db: cannot open it as an MLflow store" in err and "move the mlflow/ folder aside" in err and "Traceback" not in err
    assert (out / "metrics.jsonl").read_text() == before  # nothing trained, nothing lost

    def broken(self, *args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tracking.MLflowLog, "write", broken)
    other = tmp_path / "other"
    assert main(["train", *common, "--epochs", "3", "--out", str(other)]) == 0
    err = capsys.readouterr().err
    assert "vaekit: warning: --mlflow: stopped logging at epoch 1 ([Errno 28] No space left on device); training goes on" in err
    assert err.count("stopped logging") == 1  # once, then that logger is off
    assert len((other / "metrics.jsonl").read_text().splitlines()) == 3  # every epoch trained and recorded


def test_resume_with_no_tensorboard_turns_the_log_off(tmp_path, capsys):
    import json

    out = tmp_path / "run"
    assert main(["train", "--data", "digits", "--limit", "256", "--epochs", "1", "--tensorboard", "--no-progress", "--out", str(out)]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-tensorboard"]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["tensorboard"] is False
    assert [e.step for e in _events(out).Scalars("train/loss")] == [1]  # epoch 2 was not logged
    capsys.readouterr()
