"""Edit scores against known answers: no edit flips nothing, a perfect edit (the rendered factor itself
changed) flips the attribute and keeps the others, and the CLI reports them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vaekit.data import DataConfig, load_dataset
from vaekit.data.facegen import ATTRIBUTES, FACTOR_NAMES, attributes, render, sample_factors
from vaekit.errors import ConfigError
from vaekit.evaluation import fidelity
from vaekit.evaluation.edits import code_accuracy, edit_score, linear_readout
from vaekit.evaluation.fidelity import train_feature_net
from vaekit.generation import conditional_vector

from conftest import assert_user_error, cli

SMILING = list(ATTRIBUTES).index("smiling")


def test_strength_zero_flips_nothing_and_keeps_everything():
    before = torch.rand(50, 4) > 0.5
    images = torch.rand(50, 1, 8, 8)
    score = edit_score(before, before.clone(), ~before[:, 1], 1, images, images.clone())
    assert (score.success, score.preservation, score.distance, score.examples) == (0.0, 1.0, 0.0, 50)
    assert score.flipped == (0.0,) * 4


def test_only_examples_the_judge_reads_as_the_truth_are_scored():
    before = torch.tensor([[False, True], [True, True], [False, False]])
    after = torch.tensor([[True, True], [True, True], [True, True]])
    target = torch.tensor([True, True, True])  # the truth: attribute 0 is missing in all three; the judge disagrees on the second
    images = torch.zeros(3, 1, 2, 2)
    score = edit_score(before, after, target, 0, images, images + 1)
    assert score.examples == 2 and score.success == 1.0 and score.preservation == 0.5 and score.distance == 1.0
    assert score.flipped == (1.0, 0.5)  # the edited attribute flipped on both; the other on the first of them


def _perfect_smile_edit(n: int, size: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor, torch.Tensor]:
    """Faces that clearly do not smile, and the same faces with the smile factor itself turned up."""
    values = sample_factors(n, 123)
    values = values[values[:, FACTOR_NAMES.index("smile")] < -0.2]
    edited = values.copy()
    edited[:, FACTOR_NAMES.index("smile")] = 0.7
    return values, edited, torch.from_numpy(render(values, size)).float() / 255, torch.from_numpy(render(edited, size)).float() / 255


def test_a_perfect_edit_judged_perfectly_scores_one():
    values, edited, before, after = _perfect_smile_edit(300, 32)
    truth_before, truth_after = torch.from_numpy(attributes(values)).bool(), torch.from_numpy(attributes(edited)).bool()
    score = edit_score(truth_before, truth_after, torch.ones(len(values), dtype=torch.bool), SMILING, before, after)
    assert (score.success, score.preservation, score.examples) == (1.0, 1.0, len(values)) and score.distance > 0


@pytest.mark.slow
def test_a_perfect_edit_judged_by_the_trained_classifier_scores_about_one():
    """The judge vaekit trains for --edits on the default faces: measured success 1.00, preservation 0.84 (its own
    misreadings of the other eight attributes when only the mouth changes), which bounds what a model's edit scores."""
    data = load_dataset(DataConfig(name="faces"))
    judge = train_feature_net(data.train, data.valid, epochs=1, task="attributes")
    values, _, before, after = _perfect_smile_edit(600, 64)
    target = torch.ones(len(values), dtype=torch.bool)
    score = edit_score(judge.predict(before), judge.predict(after), target, SMILING, before, after)
    print(f"perfect smile edit, trained judge: {score}")
    assert score.examples > 0.9 * len(values) and score.success > 0.95 and score.preservation > 0.8, score


def test_evaluate_edits_on_a_faces_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fidelity, "ATTRIBUTE_STEPS", 100)  # a rougher judge: this test checks the plumbing
    out = tmp_path / "run"
    train = ["train", "--data", "faces:600", "--image-size", "32", "--hidden", "64", "--latent-dim", "8", "--epochs", "2"]
    assert cli(capsys, *train, "--no-progress", "--no-images", "--out", out)[0] == 0
    code, stdout, err = cli(capsys, "evaluate", out, "--iw-samples", "2", "--edits", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert set(report["edits"]) == set(ATTRIBUTES)
    for name in ("edit_success", "edit_preservation", "edit_judge_accuracy"):
        assert 0 <= report[name] <= 1
    row = report["edits"]["smiling"]
    assert {"success_1", "success_2", "preservation_1", "preservation_2", "distance_1", "distance_2", "judge_accuracy"} <= set(row)
    assert 0 <= row["code_accuracy"] <= 1
    flips = row["others_flipped_2"]  # which other attributes the smile vector also moved, most often first
    assert "smiling" not in flips and set(flips) <= set(ATTRIBUTES) and list(flips.values()) == sorted(flips.values(), reverse=True)
    assert all(0 < f <= 1 for f in flips.values()) and (row["preservation_2"] < 1) == bool(flips)
    assert np.isfinite(report["edit_distance"]) and report["edit_vectors"] == "mean"
    assert_user_error(capsys, ["evaluate", out, "--edits", "--edit-vectors", "conditional"], r"other 8 attributes.*8 latents")
    wide = tmp_path / "wide"  # 12 latents: room to hold the other 8 attributes' read-outs
    assert cli(capsys, *train[:-4], "--latent-dim", "12", "--epochs", "2", "--no-progress", "--no-images", "--out", wide)[0] == 0
    code, stdout, err = cli(capsys, "evaluate", wide, "--iw-samples", "2", "--edits", "--json")
    row = json.loads(stdout)["edits"]["smiling"]
    code, stdout, err = cli(capsys, "evaluate", wide, "--iw-samples", "2", "--edits", "--edit-vectors", "conditional", "--json")
    conditional = json.loads(stdout)
    assert code == 0 and conditional["edit_vectors"] == "conditional", err
    assert conditional["edits"]["smiling"]["code_accuracy"] == row["code_accuracy"]  # the same codes; other vectors
    assert conditional["edits"]["smiling"]["distance_2"] != row["distance_2"]
    assert_user_error(capsys, ["evaluate", out, "--edit-vectors", "conditional"], r"add --edits")


def test_edits_need_attributes(tiny_digits_run, capsys):
    assert_user_error(capsys, ["evaluate", tiny_digits_run, "--iw-samples", "2", "--edits"], r"--edits needs data with binary attributes")


def test_an_attribute_without_both_sides_is_reported_unscored(tmp_path, capsys, monkeypatch):
    from conftest import make_folder

    monkeypatch.setattr(fidelity, "ATTRIBUTE_STEPS", 50)
    root = make_folder(tmp_path / "pets")
    lines = (tmp_path / "attrs.csv").read_text().splitlines()
    (tmp_path / "attrs.csv").write_text("\n".join([lines[0] + ",Always"] + [ln + ",1" for ln in lines[1:]]) + "\n")
    out = tmp_path / "run"
    train = ["train", "--data", f"folder:{root}", "--attributes", tmp_path / "attrs.csv", "--image-size", "8", "--hidden", "16"]
    assert cli(capsys, *train, "--latent-dim", "2", "--epochs", "2", "--no-progress", "--no-images", "--out", out)[0] == 0
    code, stdout, err = cli(capsys, "evaluate", out, "--iw-samples", "2", "--edits", "--json")
    assert code == 0, err
    edits = json.loads(stdout)["edits"]
    assert edits["Always"]["examples"] == 0 and "success_2" not in edits["Always"] and "success_2" in edits["Smiling"]


def test_code_accuracy_tells_codes_that_carry_an_attribute_from_codes_that_do_not():
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(2000, generator=g) < 0.5  # (N,)
    noise = torch.randn(2000, 6, generator=g)  # (N, D)
    carried = noise.clone()
    carried[:, 2] += torch.where(truth, 3.0, -3.0)  # one latent holds it, shifted by 6 noise sigmas
    carried[:, 5] = 0.0  # a collapsed latent: the read-out must cope with rank-deficient codes
    assert code_accuracy(carried[:1000], truth[:1000], carried[1000:], truth[1000:]) > 0.99
    assert abs(code_accuracy(noise[:1000], truth[:1000], noise[1000:], truth[1000:]) - 0.5) < 0.06  # chance
    with pytest.raises(ConfigError, match="read-out needs"):
        code_accuracy(noise[:10], truth[:9], noise[10:], truth[10:])


def test_a_conditional_vector_leaves_the_held_read_outs_where_they_were():
    g = torch.Generator().manual_seed(1)
    e = torch.eye(4)
    assert torch.allclose(conditional_vector(e[0] + 2 * e[1], e[1:2]), e[0])  # the held direction is removed, the rest kept
    assert torch.allclose(conditional_vector(e[0] + 2 * e[1], torch.stack([e[1], 3 * e[1]])), e[0])  # dependent directions too
    held = torch.randn(3, 6, generator=g)  # (M, D) read-out weights of three attributes
    vector = torch.randn(6, generator=g)
    edited = conditional_vector(vector, held)
    assert torch.allclose(held @ edited, torch.zeros(3), atol=1e-5)  # no read-out moves along it
    assert edited @ vector > 0  # and it still points the vector's way
    with pytest.raises(ConfigError, match="leaves no direction"):
        conditional_vector(e[0], e)  # holding every direction leaves nothing to edit


def test_a_linear_read_out_finds_the_latent_that_carries_an_attribute():
    g = torch.Generator().manual_seed(2)
    codes = torch.randn(3000, 5, generator=g)  # (N, D)
    truth = torch.stack([codes[:, 1] > 0.3, codes[:, 4] < 0], 1)  # (N, 2)
    weights, bias = linear_readout(codes, truth)
    assert weights.shape == (2, 5) and bias.shape == (2,)
    assert weights[0].abs().argmax() == 1 and weights[0, 1] > 0 and bias[0] < 0  # z1 > 0.3: a positive weight, a negative offset
    assert weights[1].abs().argmax() == 4 and weights[1, 4] < 0
