"""``vaekit benchmark``: a small matrix end to end, resumption, and bad configs."""

from __future__ import annotations

import json

import pytest

from vaekit.cli import main
from vaekit.commands import preset_run_config
from vaekit.evaluation import fidelity

CONFIG = """
title = "tiny"
epochs = 1
iw_samples = 3
fid_samples = 200

[[data]]
name = "digits"

[[data]]
name = "shapes:400"
options = { epochs = 2 }

[[model]]
model = "vae"
options = { hidden = [32], latent_dim = 4 }

[[model]]
model = "ae"
label = "AE (MSE)"
options = { hidden = [32], latent_dim = 4, likelihood = "gaussian" }

[[reference]]
data = "digits"
model = "imaginary VAE"
nll = 12.5
source = "a made-up paper"
"""


@pytest.mark.slow  # 11 s end to end; the cell logic has its own quick tests below
def test_benchmark_runs_every_cell_writes_a_table_and_skips_finished_cells(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fidelity, "MIN_STEPS", 100)  # a rougher feature classifier: this test checks the plumbing
    config = tmp_path / "bench.toml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    assert main(["benchmark", str(config), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "[4/4] AE (MSE) on shapes:400" in captured.err
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["model"], r["data"]) for r in rows] == [
        ("vae", "digits"),
        ("AE (MSE)", "digits"),
        ("vae", "shapes:400"),
        ("AE (MSE)", "shapes:400"),
    ]
    assert all("error" not in r and r["train_s"] > 0 and r["examples_per_s"] > 0 for r in rows)
    vae_digits, ae_digits, vae_shapes, _ = rows
    assert vae_digits["epochs"] == 1 and vae_shapes["epochs"] == 2  # data options apply to every model on that data
    assert vae_digits["nll"] > 0 and vae_digits["frechet_distance"] > 0 and ae_digits["nll"] is None
    assert vae_shapes["mig"] is not None and vae_digits["mig"] is None
    table = (out / "leaderboard.md").read_text()
    assert table.startswith("# tiny") and f"`vaekit benchmark {config} --out {out}`" in table
    assert "### digits" in table and "### shapes:400" in table and "| MIG |" in table
    assert "*imaginary VAE* (published: a made-up paper)" in table and "12.50" in table
    assert "| AE (MSE) | 1 | — | — | — |" in table  # no likelihood for an autoencoder
    assert main(["benchmark", str(config), "--out", str(out)]) == 0  # again: nothing left to do
    assert "[1/4]" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("[[data]]\nname = 'digits'\n", "at least one"),
        ("epoch = 3\n[[data]]\nname = 'digits'\n[[model]]\nmodel = 'vae'\n", "unknown setting"),
        ("[[data]]\nname = 'digits'\n[[model]]\nmodel = 'vae'\noptions = { latent = 3 }\n", "unknown option 'latent'"),
        ("[[data]]\nname = 'nope'\n[[model]]\nmodel = 'vae'\n", "unknown dataset 'nope'"),
        ("[[data]]\nname = 'digits'\n[[model]]\nlabel = 'x'\n", "needs model = FAMILY"),
        ("[[data]]\nname = 'digits'\n[[model]]\nmodel = 'vae'\n[[model]]\nmodel = 'vae'\n", "share a name"),
        ("[[data]\n", "not valid TOML"),
        ("[[data]]\nname = 'digits'\n[[model]]\nmodel = 'vae'\nskip = ['mnist']\n", "names dataset 'mnist', which no [[data]]"),
        ("[[data]]\nname = 'digits'\n[[model]]\nmodel = 'vae'\nskip = 'digits'\n", "must be a list of dataset names"),
        ("[[data]]\nname = 'digits'\n[[model]]\nmodel = 'vae'\ndata_options = { digits = 3 }\n", "must map dataset names"),
        ("[[data]]\nname = 'digits'\n[[model]]\nmodel = 'vae'\ndata_options = { digits = { latent = 3 } }\n", "unknown option 'latent'"),
    ],
)
def test_bad_benchmark_configs_are_one_line_errors(tmp_path, capsys, text, pattern):
    config = tmp_path / "bench.toml"
    config.write_text(text)
    assert main(["benchmark", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert pattern in err and str(config) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing written for a bad config


def test_a_model_can_take_options_on_one_dataset_and_skip_another(tmp_path):
    from vaekit.commands.benchmark import load_benchmark, markdown

    config = tmp_path / "bench.toml"
    config.write_text(
        "[[data]]\nname = 'faces:40'\n[[data]]\nname = 'binarized-mnist'\n[[data]]\nname = 'digits'\n"
        "[[model]]\nmodel = 'vae'\n"
        "[[model]]\nmodel = 'cvae'\ndata_options = { 'faces:40' = { condition = 'attributes', latent_dim = 3 } }\n"
        "skip = ['binarized-mnist']\n"
    )
    bench = load_benchmark(config)
    cells = {(c.label, c.data_label): c.config for c in bench.cells}
    assert sorted(cells) == [("cvae", "digits"), ("cvae", "faces:40"), ("vae", "binarized-mnist"), ("vae", "digits"), ("vae", "faces:40")]
    assert cells["cvae", "faces:40"].model.condition == "attributes" and cells["cvae", "faces:40"].model.latent_dim == 3
    assert cells["cvae", "digits"].model.condition == "label" and cells["vae", "faces:40"].model.latent_dim != 3
    table = markdown(bench, [], "vaekit benchmark bench.toml")
    assert "Not run on binarized-mnist (does not apply; `skip` in the config): cvae." in table


def test_recipe_presets_carry_data_objective_and_training():
    vae = preset_run_config(preset="binarized-vae")
    assert vae.data.name == "binarized-mnist" and vae.model.arch == "conv" and vae.objective.kl_warmup_steps == 5000
    assert (vae.train.epochs, vae.train.batch_size, vae.train.lr_schedule) == (100, 100, "cosine")
    iwae = preset_run_config(preset="binarized-iwae")
    assert iwae.model.kind == "iwae" and iwae.model.samples == 5 and iwae.objective.kl_warmup_steps == 0
    assert preset_run_config(preset="seed-vae").data.name == "digits"  # model-only presets keep the default data


def test_options_an_objective_would_ignore_are_refused(tmp_path, capsys):
    assert main(["train", "--model", "iwae", "--kl-warmup-steps", "100", "--out", str(tmp_path / "r")]) == 2
    assert "does not use --kl-warmup-steps" in capsys.readouterr().err
    assert main(["train", "--model", "ae", "--beta", "2", "--out", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()


def test_a_changed_cell_does_not_reuse_the_old_run(tmp_path, capsys):
    config = tmp_path / "bench.toml"
    config.write_text(
        "epochs = 1\niw_samples = 2\nfid = false\n[[data]]\nname = 'digits'\n[[model]]\nmodel = 'ae'\noptions = { hidden = [16] }\n"
    )
    out = tmp_path / "out"
    assert main(["benchmark", str(config), "--out", str(out)]) == 0
    (out / "results.jsonl").unlink()  # as if interrupted before the result was written
    config.write_text(config.read_text().replace("[16]", "[24]"))
    assert main(["benchmark", str(config), "--out", str(out)]) == 0
    assert "holds a run with other settings" in capsys.readouterr().err
    row = json.loads((out / "results.jsonl").read_text())
    assert "other settings" in row["error"]
    config.write_text(config.read_text().replace("[24]", "[16]").replace("epochs = 1", "epochs = 2"))
    assert main(["benchmark", str(config), "--out", str(out)]) == 0  # same settings, more epochs: the run continues
    row = json.loads((out / "results.jsonl").read_text())
    assert "error" not in row and row["epochs"] == 2
