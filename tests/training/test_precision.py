"""--precision bf16 / fp16 on the CPU: autocast for the model, float32 losses and weights, resumable."""

import json
import math
from dataclasses import replace

import pytest
import torch

from vaekit import run
from vaekit.commands import evaluate_run, resume, train
from vaekit.distributions import Bernoulli, DiagonalGaussian
from vaekit.errors import ConfigError
from vaekit.run import layout
from vaekit.runtime.files import load_tensors
from vaekit.training.precision import check_supported, widen
from vaekit.types import ModelOutput

from conftest import assert_same_run, make_trainer, tiny_run_config, weights


def _supported(precision: str) -> None:
    try:
        check_supported(precision, torch.device("cpu"))
    except ConfigError as e:
        pytest.skip(f"this PyTorch cannot autocast to {precision} on the CPU: {e}")


def test_widen_makes_every_half_tensor_of_an_output_float32_and_keeps_the_rest():
    mu = torch.randn(3, 2)
    z = torch.randn(3, 2, dtype=torch.bfloat16)
    output = ModelOutput(DiagonalGaussian(mu, torch.zeros(3, 2)), z, Bernoulli(torch.randn(3, 4, dtype=torch.float16)))
    wide = widen(output)
    assert wide.z.dtype == torch.float32 and wide.likelihood.logits.dtype == torch.float32
    assert wide.posterior is output.posterior  # nothing to widen: the same object, no copy
    torch.testing.assert_close(wide.z, z.float())
    already = ModelOutput(output.posterior, mu, Bernoulli(torch.randn(3, 4)))
    assert widen(already) is already  # fp32 training is untouched


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_the_forward_pass_runs_in_low_precision_and_the_loss_in_float32(tmp_path, precision):
    _supported(precision)
    trainer = make_trainer(tmp_path, precision=precision)
    seen = []
    first = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Linear))
    first.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    terms = trainer._step(trainer.data.train.batch(slice(0, 64)))
    assert seen == [{"bf16": torch.bfloat16, "fp16": torch.float16}[precision]]  # autocast ran the layer
    assert all(t.dtype == torch.float32 for t in terms.values())  # the nats are float32 sums
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in trainer.model.parameters())


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_trains_close_to_fp32_and_the_run_loads_in_fp32(tmp_path, precision):
    _supported(precision)
    base = tiny_run_config(epochs=6)
    low = replace(base, train=replace(base.train, precision=precision))
    reference = train(base, tmp_path / "fp32", images=False)
    result = train(low, tmp_path / precision, images=False)
    assert json.loads((tmp_path / precision / layout.CONFIG).read_text())["train"]["precision"] == precision
    assert all(v.dtype == torch.float32 for v in weights(tmp_path / precision).values())  # master weights stay float32
    loss, fp32_loss = result.last_metrics["valid_loss"], reference.last_metrics["valid_loss"]
    assert loss == pytest.approx(fp32_loss, rel=0.05)  # the same training, up to rounding in the forward pass
    assert loss != fp32_loss  # the forward pass really ran in the low precision
    model = run.load(tmp_path / precision)
    assert next(model.parameters()).dtype == torch.float32
    report = evaluate_run(tmp_path / precision, iw_samples=5, limit=100)
    assert math.isfinite(report.nll) and report.elbo < 0  # evaluated in fp32


def test_fp16_gradient_scaler_is_checkpointed_and_resume_stays_bitwise(tmp_path):
    _supported("fp16")
    config = tiny_run_config(epochs=3)
    config = replace(config, train=replace(config.train, precision="fp16"))
    train(config, tmp_path / "full", images=False)
    train(config, tmp_path / "part", images=False, stop_at_step=11)
    _, metadata = load_tensors(tmp_path / "part" / layout.STATE)
    scaler = json.loads(metadata["scaler"])
    assert scaler["scale"] > 1 and scaler["_growth_tracker"] == 11  # 11 steps without an overflow
    resume(tmp_path / "part", images=False)
    assert_same_run(tmp_path / "full", tmp_path / "part")
