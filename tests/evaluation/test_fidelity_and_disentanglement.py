"""Known answers for --fid (Fréchet distance, precision/recall, the cached classifier) and
--disentanglement (MIG, DCI, SAP, FactorVAE, β-VAE), and the ``shapes`` dataset they score against."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from vaekit.cli import main
from vaekit.data import DataConfig, load_dataset
from vaekit.data.shapes import DSPRITES_GRID, GRID, factor_product, factor_sample, render
from vaekit.errors import ConfigError
from vaekit.evaluation.disentanglement import beta_vae_score, dci, disentanglement_scores, factor_vae_score, mig, sap
from vaekit.evaluation.fidelity import feature_extractor, flips, frechet_distance, precision_recall


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    a = torch.randn(2000, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shifts = [frechet_distance(a, a + s) for s in (0.5, 1.0, 2.0)]
    assert shifts == pytest.approx([16 * s**2 for s in (0.5, 1.0, 2.0)], rel=1e-6)  # ||shift||^2, covariances equal


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(200_000, 2, generator=g, dtype=torch.float64)  # N(0, I)
    b = torch.randn(200_000, 2, generator=g, dtype=torch.float64) * torch.tensor([2.0, 0.5], dtype=torch.float64)
    # diagonal covariances: sum_i (1 + s_i^2 - 2 s_i) = sum_i (1 - s_i)^2
    assert frechet_distance(a, b) == pytest.approx((1 - 2) ** 2 + (1 - 0.5) ** 2, abs=0.02)


def test_precision_and_recall_known_answers():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(1000, 4, generator=g, dtype=torch.float64)
    assert precision_recall(real, real) == (1.0, 1.0)
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    collapsed = real[:10].repeat(100, 1) + 1e-3 * torch.randn(1000, 4, generator=g, dtype=torch.float64)  # mode collapse
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.2


def test_flips_are_a_four_way_task():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(4, 1, 1, 1)
    out, task = flips(x)
    assert task.tolist() == [0, 1, 2, 3]
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], x[1].flip(-1))
    assert torch.equal(out[2], x[2].flip(-2)) and torch.equal(out[3], x[3].flip(-1).flip(-2))


@pytest.mark.slow  # 10-12 s; kept out of the 4-minute default suite
def test_feature_classifier_is_trained_once_then_cached(tmp_path):
    data = load_dataset(DataConfig("digits"))
    first = feature_extractor("digits", data.train, data.valid, tmp_path)
    assert first.task == "labels" and first.accuracy > 0.8  # a useful feature space on 8x8 digits
    (cached,) = (tmp_path / "features").iterdir()
    second = feature_extractor("digits", data.train, data.valid, tmp_path)
    x = data.test.batch(slice(0, 50))
    assert torch.equal(first(x), second(x)) and second.accuracy == first.accuracy
    cached.write_bytes(b"damaged")  # a broken cache file is replaced, not fatal
    assert torch.equal(feature_extractor("digits", data.train, data.valid, tmp_path)(x), first(x))
    unlabeled = feature_extractor("digits", replace(data.train, labels=None), replace(data.valid, labels=None), tmp_path)
    assert unlabeled.task == "flips" and unlabeled.accuracy > 0.5  # four flips: chance is 0.25


def test_shapes_are_deterministic_and_carry_their_factors():
    factors = factor_product()
    assert factors.shape == (int(np.prod(GRID)), 5)
    assert len(np.unique(factors, axis=0)) == len(factors)
    images = render(factors[:50])
    assert images.shape == (50, 1, 64, 64) and set(np.unique(images)) <= {0, 1}
    assert np.array_equal(images, render(factors[:50]))
    assert (images.reshape(50, -1).sum(1) > 20).all()  # every sprite is visible and inside the frame
    assert not images[:, :, [0, -1]].any() and not images[:, :, :, [0, -1]].any()
    scale = factors[:, 1]
    small, large = render(factors[scale == 0][:20]), render(factors[scale == GRID[1] - 1][:20])
    assert small.sum() < large.sum()
    sample = factor_sample(500, seed=3)
    assert np.array_equal(sample, factor_sample(500, seed=3)) and (sample < np.array(DSPRITES_GRID)).all()
    assert len(np.unique(sample, axis=0)) == 500
    data = load_dataset(DataConfig("shapes:600:1"))
    assert data.factor_names == ("shape", "scale", "rotation", "x", "y") and data.test.factors.shape == (60, 5)
    assert torch.equal(data.train.labels, data.train.factors[:, 0])
    with pytest.raises(ConfigError, match="shapes:N:SEED"):
        DataConfig("shapes:many")


def _codes(n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    factors = factor_product()[rng.permutation(int(np.prod(GRID)))[:n]]  # (n, 5)
    permuted = factors[:, [3, 0, 4, 1, 2]] + 0.01 * rng.standard_normal(factors.shape)  # one code per factor
    permuted = np.concatenate([permuted, 0.01 * rng.standard_normal((n, 2))], 1)  # and two collapsed units
    standard = (factors[:, 1:] - factors[:, 1:].mean(0)) / factors[:, 1:].std(0)  # scale, rotation, x, y
    hadamard = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2  # mixes every factor into every code equally
    return factors, permuted, standard @ hadamard, rng.standard_normal((n, 5))


def test_mig_and_dci_are_near_one_for_a_permutation_and_low_for_a_rotation():
    factors, permuted, rotated, _ = _codes()
    assert mig(permuted, factors) > 0.95
    d = dci(permuted, factors)
    assert d.disentanglement > 0.95 and d.completeness > 0.95 and d.informativeness > 0.95
    assert mig(rotated, factors[:, 1:]) < 0.2
    d = dci(rotated, factors[:, 1:])
    assert d.disentanglement < 0.35 and d.completeness < 0.35


def test_sap_factor_vae_and_beta_vae_scores_known_answers():
    factors, permuted, _, noise = _codes()
    chance = 1 / factors.shape[1]
    assert factor_vae_score(permuted, factors) == 1.0  # the fixed factor's own code has zero variance
    assert beta_vae_score(permuted, factors) == 1.0  # |z1 - z2| is zero exactly in the fixed factor's code
    assert abs(factor_vae_score(noise, factors) - chance) < 0.1
    assert abs(beta_vae_score(noise, factors) - chance) < 0.1
    # SAP: each factor's own code predicts it perfectly, the next best code only at chance level
    expected = np.mean([1 - max(np.bincount(factors[:, f])) / len(factors) for f in range(5)])
    assert sap(permuted, factors) == pytest.approx(expected, abs=0.05)
    assert sap(noise, factors) < 0.05
    assert set(disentanglement_scores(permuted, factors)) == {
        "mig",
        "dci_disentanglement",
        "dci_completeness",
        "dci_informativeness",
        "sap",
        "factor_vae_score",
        "beta_vae_score",
    }


def test_evaluate_fid_and_disentanglement_from_the_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--epochs", "3", "--out", str(run), "--no-progress", "--no-images"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--iw-samples", "5", "--fid", "--fid-samples", "300", "--json"]) == 0
    out, err = capsys.readouterr()
    values = json.loads(out)
    assert "warning" not in err  # scipy's singular-matrix note is expected for ReLU features and not shown
    assert values["frechet_distance"] > 0 and 0 <= values["precision"] <= 1 and 0 <= values["recall"] <= 1
    assert values["fid_classifier_accuracy"] > 0.8 and values["mig"] is None
    assert main(["evaluate", str(run), "--disentanglement"]) == 2
    assert "known generative factors" in capsys.readouterr().err
    shapes = tmp_path / "shapes"
    assert (
        main(
            [
                "train",
                "--data",
                "shapes:800",
                "--hidden",
                "64",
                "--latent-dim",
                "5",
                "--epochs",
                "1",
                "--out",
                str(shapes),
                "--no-progress",
                "--no-images",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["evaluate", str(shapes), "--iw-samples", "2", "--split", "train", "--disentanglement", "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert all(0 <= values[k] <= 1 for k in ("mig", "dci_disentanglement", "sap", "factor_vae_score", "beta_vae_score"))


def test_fid_of_conditional_and_vq_models_draws_across_chunks(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path / "cache"))
    for model in ("cvae", "vq-vae"):
        run = tmp_path / model
        assert (
            main(["train", "--data", "digits", "--model", model, "--epochs", "2", "--out", str(run), "--no-progress", "--no-images"]) == 0
        )
        capsys.readouterr()
        assert main(["evaluate", str(run), "--iw-samples", "2", "--fid", "--fid-samples", "700", "--split", "train", "--json"]) == 0
        values = json.loads(capsys.readouterr().out)  # 700 samples: two chunks of draws, conditions sliced per chunk
        assert values["frechet_distance"] > 0 and 0 <= values["precision"] <= 1 and 0 <= values["recall"] <= 1


def test_codes_that_carry_nothing_score_zero_not_nan():
    """A collapsed model (every code constant, as a sparse-ae on faces gave in the leaderboard) has
    forests with zero importances: DCI-D and completeness are 0, not NaN."""

    factors = np.random.default_rng(0).integers(0, 3, size=(300, 2))
    score = dci(np.zeros((300, 4)), factors)
    assert (score.disentanglement, score.completeness) == (0.0, 0.0) and 0 < score.informativeness < 1
