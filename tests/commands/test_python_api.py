"""The library validates its own arguments: Python callers get the same one-line VaekitErrors as the
CLI, never a bare ValueError, silent garbage, or a reset of their random state."""

from __future__ import annotations

import pytest
import torch

from vaekit import run
from vaekit.commands import resume, train, train_or_resume
from vaekit.data import DataConfig, load_dataset
from vaekit.errors import ConfigError, RunDirError
from vaekit.evaluation import evaluate
from vaekit.evaluation.fidelity import train_feature_net
from vaekit.generation import apply_attribute, embed_2d, interpolate, sample, traverse
from vaekit.models import build_model
from vaekit.models.corruption import corrupt
from vaekit.models.networks import LikelihoodHead

from conftest import TINY, tiny_run_config


@pytest.fixture(scope="module")
def model():
    return build_model(TINY["vae"].for_data((1, 8, 8))).eval()


def test_evaluation_arguments(model):
    data = load_dataset(DataConfig(limit=50)).test.head(20)
    with pytest.raises(ConfigError, match="--iw-samples must be at least 1, got 0"):
        evaluate(model, data, iw_samples=0)
    with pytest.raises(ConfigError, match="--batch-size must be an integer"):
        evaluate(model, data, batch_size=1.5)
    with pytest.raises(ConfigError, match=r"the data have examples of shape \(1, 8, 8\), but the model's are \(1, 28, 28\)"):
        evaluate(build_model(TINY["vae"].for_data((1, 28, 28))), data)


def test_sampling_and_latent_tools_refuse_bad_numbers_and_names(model):
    x = torch.rand(2, 1, 8, 8)
    for temperature, pattern in ((-1.0, "at least 0"), (float("nan"), "finite"), (float("inf"), "finite")):
        with pytest.raises(ConfigError, match=f"--temperature must be .*{pattern}"):
            sample(model, 4, temperature=temperature)
    with pytest.raises(ConfigError, match="--n must be at least 1"):
        sample(model, 0)
    with pytest.raises(ConfigError, match="unknown --method 'slrep'; choose one of: lerp, slerp"):
        interpolate(model, x[:1], x[1:], method="slrep")
    with pytest.raises(ConfigError, match="--range must be a finite number"):
        traverse(model, [0], float("nan"))
    with pytest.raises(ConfigError, match=r"--dims \[7\] out of range"):
        traverse(model, [7])
    with pytest.raises(ConfigError, match="--strength must be a finite number"):
        apply_attribute(model, x, torch.zeros(4), [1.0, float("nan")])
    with pytest.raises(ConfigError, match="an attribute vector must hold 4 finite numbers"):
        apply_attribute(model, x, torch.full((4,), float("nan")), [1.0])
    with pytest.raises(ConfigError, match="unknown --method 'umap'"):
        embed_2d(torch.randn(10, 3), "umap")


def test_string_switches_do_not_fall_through():
    with pytest.raises(ConfigError, match="unknown corruption 'blur'; choose one of: gaussian, masking, salt-pepper"):
        corrupt(torch.rand(2, 3), "blur", 0.1)
    with pytest.raises(ConfigError, match="unknown likelihood 'poison'"):
        LikelihoodHead("poison", (1, 8, 8), "sigmoid", 0.1, False)
    with pytest.raises(ConfigError, match="unknown --weights 'lats'"):
        run.load("nowhere", weights="lats")


def test_the_callers_global_random_state_is_left_alone(tmp_path):
    data = load_dataset(DataConfig(limit=200))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    train_feature_net(data.train, data.valid, epochs=1, min_steps=1)
    train(tiny_run_config(epochs=1), tmp_path / "run", images=False)
    assert torch.equal(torch.get_rng_state(), state)


def test_the_resume_policy_lives_in_the_library(tmp_path):
    train(tiny_run_config(epochs=1), tmp_path / "run", images=False)
    with pytest.raises(
        ConfigError, match=r"drop --model, --lr \(only --epochs, --device, --progress, --compile, --tensorboard, --mlflow may be given\)"
    ):
        from vaekit.models import ModelConfig
        from vaekit.training import TrainConfig

        train_or_resume(model=ModelConfig(kind="ae"), train_config=TrainConfig(lr=0.1), resume_dir=tmp_path / "run")
    with pytest.raises(RunDirError, match=r"already holds a run; continue it with `vaekit train --resume .*` \(Python: vaekit.resume\("):
        train(tiny_run_config(epochs=1), tmp_path / "run", images=False)
    assert resume(tmp_path / "run", epochs=2, images=False).progress.epoch == 2
