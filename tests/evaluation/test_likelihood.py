"""Evaluation on a trained model: bound ordering, K dependence, active units, autoencoders."""

import math

import pytest
import torch

from vaekit import run
from vaekit.commands import evaluate_run, train
from vaekit.evaluation import active_units, evaluate, kl_per_dimension

from conftest import tiny_run_config


def test_iwae_is_above_the_elbo_and_grows_with_k(trained_digits_run):
    model = run.load(trained_digits_run)
    data = run.load_split(trained_digits_run, "test")
    reports = {k: evaluate(model, data, "test", k, torch.Generator().manual_seed(0)) for k in (1, 10, 100, 1000)}
    for k in (10, 100, 1000):
        assert reports[k].iwae_log_px >= reports[k].elbo  # per-example bound, averaged
    noise = 0.05  # nats: Monte-Carlo noise of a 360-example mean
    assert reports[1].iwae_log_px < reports[10].iwae_log_px < reports[100].iwae_log_px + noise
    assert reports[100].iwae_log_px < reports[1000].iwae_log_px + noise
    assert reports[1000].iwae_log_px - reports[1].iwae_log_px > 0.1  # a real, not a noise-level, gain
    r = reports[1000]
    assert r.elbo == pytest.approx(-(r.reconstruction_nll + r.kl))
    assert r.nll == -r.iwae_log_px and r.bits_per_dim == pytest.approx(r.nll / (64 * math.log(2)))
    assert r.n == 360 and r.split == "test" and 0 < r.active_units <= 8


def test_evaluation_repeats_with_the_same_seed(trained_digits_run):
    a = evaluate_run(trained_digits_run, iw_samples=20, limit=50, seed=3)
    b = evaluate_run(trained_digits_run, iw_samples=20, limit=50, seed=3)
    assert a == b and a.n == 50


def test_active_units_follow_burda_criterion():
    g = torch.Generator().manual_seed(0)
    mu = torch.cat([torch.randn(1000, 2, generator=g), 0.05 * torch.randn(1000, 1, generator=g), torch.zeros(1000, 1)], 1)
    assert active_units(mu) == 2  # variance 1, 1, 0.0025, 0 against threshold 0.01
    assert active_units(mu, threshold=0.001) == 3
    kl = kl_per_dimension(torch.zeros(4, 3), torch.zeros(4, 3))
    assert torch.equal(kl, torch.zeros(3))


def test_autoencoder_reports_reconstruction_only(tmp_path):
    train(tiny_run_config("ae", epochs=2), tmp_path / "ae", images=False)
    r = evaluate_run(tmp_path / "ae", iw_samples=10)
    assert r.elbo is None and r.iwae_log_px is None and r.kl is None and r.active_units is None
    assert r.reconstruction_nll is not None and 0 < r.mse < 0.2
