"""vaekit export: ONNX (read back by onnxruntime) and TorchScript (torch.jit.load) reproduce vaekit's
encoder and decoder on real test inputs; what cannot be exported is refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit import run
from vaekit.cli import main
from vaekit.commands import RunConfig, train
from vaekit.commands.export import PARAMETERS
from vaekit.data import DataConfig
from vaekit.models import ModelConfig
from vaekit.training import TrainConfig

from conftest import tiny_faces_cvae_config

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

IMAGE_LIKELIHOODS = ("bernoulli", "continuous-bernoulli", "gaussian", "logistic")


def _run(tmp_path: Path, kind: str = "vae", arch: str = "mlp", likelihood: str = "bernoulli", **model) -> Path:
    out = tmp_path / f"{kind}-{arch}-{likelihood}"
    config = RunConfig(
        data=DataConfig(name="digits", limit=128),
        model=ModelConfig(kind=kind, arch=arch, width=4, hidden=(16,), latent_dim=4, likelihood=likelihood, **model),
        train=TrainConfig(epochs=1, batch_size=64, progress=False),
    )
    train(config, out, images=False)
    return out


def _check(run_dir: Path, out: Path, fmt: str) -> dict:
    """Export both parts and compare them with vaekit on real test inputs here, independently of the command's own check."""
    assert main(["export", str(run_dir), "--out", str(out), "--format", fmt]) == 0
    record = json.loads((out / "export.json").read_text())
    model = run.load(run_dir)
    test = run.load_split(run_dir, "test", None, 10)
    x = test.batch(slice(0, 10))
    # the files are checked on conditions the command did not see: each example's own class rolled by one
    y = None if model.conditioning is None else test.condition(slice(0, 10), model.conditioning, model.condition_dim).roll(1, dims=-1)
    given = {} if y is None else {"y": y}
    with torch.no_grad():
        posterior = model.encode(x, y)
        named = {"mu": "mu", "logvar": "logvar", "codes": "value"}
        ours_enc = [posterior.mode() if n == "mode" else getattr(posterior, named[n]) for n in record["encoder"]["outputs"]]
        z = posterior.mode()
        likelihood = model.decode(z, y)
        ours_dec = [getattr(likelihood, n).expand(10, *model.data_shape) for n in PARAMETERS[record["likelihood"]]]
    for part, inputs, ours in (("encoder", {"x": x, **given}, ours_enc), ("decoder", {"z": z, **given}, ours_dec)):
        path = out / record[part]["file"]
        assert list(record[part]["inputs"]) == list(inputs)
        if fmt == "onnx":
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            got = session.run(None, {name: t.numpy() for name, t in inputs.items()})
        else:
            with torch.no_grad():
                got = [t.numpy() for t in torch.jit.load(str(path))(*inputs.values())]
        assert len(got) == len(ours) == len(record[part]["outputs"])
        for a, b in zip(got, ours, strict=True):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-5)
        assert record[part]["max_abs_difference"] <= 1e-5
    return record


@pytest.mark.parametrize(("arch", "likelihood", "fmt"), [("mlp", "gaussian", "onnx"), ("conv", "logistic", "torchscript")])
def test_exported_encoder_and_decoder_reproduce_vaekit(tmp_path, arch, likelihood, fmt):
    record = _check(_run(tmp_path, arch=arch, likelihood=likelihood), tmp_path / "out", fmt)
    assert record["encoder"]["outputs"] == {"mu": ["batch", 4], "logvar": ["batch", 4]}
    names = PARAMETERS[likelihood]
    assert record["decoder"]["outputs"] == {n: ["batch", 1, 8, 8] for n in names} and record["input_shape"] == [1, 8, 8]


def test_an_autoencoder_exports_codes_and_a_non_gaussian_posterior_its_mode(tmp_path):
    record = _check(_run(tmp_path, kind="ae"), tmp_path / "ae", "onnx")
    assert record["encoder"]["outputs"] == {"codes": ["batch", 4]}
    for name, fmt, model in (
        ("iaf", "onnx", {"flow": "iaf", "flow_steps": 2}),
        ("planar", "torchscript", {"flow": "planar", "flow_steps": 2}),
        ("hvae", "onnx", {"kind": "hvae", "ladder_hidden": (8,), "layer_dims": (4, 2)}),
    ):
        record = _check(_run(tmp_path / name, **model), tmp_path / f"{name}-out", fmt)
        # the point vaekit encode stores: a flow's base mean through the flow, an hvae's layer means top-down
        assert record["encoder"]["outputs"] == {"mode": ["batch", 6 if name == "hvae" else 4]}
        assert record["decoder"]["inputs"] == {"z": ["batch", 6 if name == "hvae" else 4]}
    assert main(["export", str(tmp_path / "iaf" / "vae-mlp-bernoulli"), "--out", str(tmp_path / "d"), "--part", "decoder"]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["decoder.onnx", "export.json"]


@pytest.mark.parametrize(("arch", "fmt"), [("mlp", "onnx"), ("conv", "torchscript")])
def test_a_conditional_model_exports_with_its_condition_as_a_second_input(tmp_path, arch, fmt):
    record = _check(_run(tmp_path, kind="cvae", arch=arch), tmp_path / "out", fmt)
    y = ["batch", 10]  # digits: ten classes, one-hot
    assert record["encoder"]["inputs"] == {"x": ["batch", 1, 8, 8], "y": y} and record["decoder"]["inputs"] == {"z": ["batch", 4], "y": y}
    assert record["condition"]["kind"] == "label" and record["condition"]["size"] == 10


def test_an_attribute_conditioned_model_lists_its_attributes_in_order(tmp_path):
    out = tmp_path / "faces-cvae"
    train(tiny_faces_cvae_config(), out, images=False)
    record = _check(out, tmp_path / "out", "onnx")
    names = list(run.load_splits(out).attribute_names)
    assert record["condition"]["names"] == names and record["condition"]["size"] == len(names) == 9
    assert record["encoder"]["inputs"]["y"] == ["batch", 9]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("arch", ["mlp", "conv", "resnet"])
@pytest.mark.parametrize("likelihood", IMAGE_LIKELIHOODS)
def test_every_image_likelihood_and_architecture_exports_exactly(tmp_path, arch, likelihood, fmt):
    _check(_run(tmp_path, arch=arch, likelihood=likelihood, learn_variance=likelihood == "gaussian"), tmp_path / "out", fmt)


@pytest.mark.slow
@pytest.mark.parametrize("likelihood", ["poisson", "negative-binomial", "zinb"])
def test_count_models_export_their_parameters_and_library_size(tmp_path, likelihood):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.poisson(5.0, (120, 6))).rename(columns=str).to_csv(tmp_path / "c.csv", index=False)
    out = tmp_path / likelihood
    config = RunConfig(
        data=DataConfig(name=f"csv:{tmp_path / 'c.csv'}"),
        model=ModelConfig(hidden=(16,), latent_dim=2, likelihood=likelihood),
        train=TrainConfig(epochs=2, batch_size=32, progress=False),
    )
    train(config, out, images=False)
    record = _check(out, tmp_path / "out", "onnx")
    assert record["library_size"] == pytest.approx(30.0, rel=0.1)  # 6 columns of mean 5
