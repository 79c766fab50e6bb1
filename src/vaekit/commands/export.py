"""``vaekit export``: a run's encoder and decoder as standalone ONNX or TorchScript files.

The encoder maps a batch of inputs, as vaekit's model sees them (images as float32 in [0, 1], that is
8-bit values / 255; table rows as their values), to the posterior's ``mu`` and ``logvar`` (VAE
families with a Gaussian posterior), to the ``codes`` (autoencoders; a VQ-VAE's quantized codes), or
to the posterior's ``mode`` where q(z|x) is not one Gaussian: a flow posterior's base mean through
the flow, a hierarchical VAE's layer means taken top-down, each given the one above (the point
``vaekit encode`` stores and the latent tools use). The decoder maps latents to
the parameters of p(x|z), named after the likelihood: ``logits`` (bernoulli, continuous-bernoulli),
``mean`` and ``logvar`` (gaussian), ``mean`` and ``log_scale`` (logistic), ``log_rho`` (proportions;
the mean count is exp(log_rho) x the library size), ``log_theta`` and ``zi_logits`` (count
likelihoods). Every output has the batch dimension first; the batch size is free.

``export.json`` beside the files records the shapes, the likelihood, the preprocessing and the
largest difference between the exported files' outputs and vaekit's on real test inputs, which
the command measures before it reports success (onnxruntime for ONNX, the loaded TorchScript
module for TorchScript). A conditional model's (``cvae``) encoder and decoder take a second input,
``y`` (B, Y): the one-hot class, or the attributes as 0/1 in the order ``export.json`` lists them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import tyro
from torch import nn

from vaekit import run
from vaekit.distributions import DiagonalGaussian
from vaekit.errors import ConfigError, VaekitError, first_line
from vaekit.models import LatentModel
from vaekit.runtime.files import atomic_write_json, make_dir

Format = Literal["onnx", "torchscript"]
Part = Literal["encoder", "decoder", "both"]
PARAMETERS = {
    "bernoulli": ("logits",),
    "continuous-bernoulli": ("logits",),
    "gaussian": ("mean", "logvar"),
    "logistic": ("mean", "log_scale"),
    "poisson": ("log_rho",),
    "negative-binomial": ("log_rho", "log_theta"),
    "zinb": ("log_rho", "log_theta", "zi_logits"),
}
TOLERANCE = 1e-5
CHECK_EXAMPLES = 16
INSTALL = "pip install 'vaekit[export]'"


class EncoderPart(nn.Module):
    """x (B, *data shape) [and a condition y (B, Y)] -> (mu, logvar) of the posterior, the codes, or the mode (B, D)."""

    def __init__(self, model: LatentModel, outputs: tuple[str, ...]):
        super().__init__()
        self.model, self.outputs = model, outputs

    def forward(self, x: torch.Tensor, *condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        posterior = self.model.encode(x, *condition)
        if self.outputs == ("mode",):
            return (posterior.mode(),)
        return (posterior.mu, posterior.logvar) if self.outputs == ("mu", "logvar") else (posterior.value,)


class DecoderPart(nn.Module):
    """z (B, D) [and a condition y (B, Y)] -> the likelihood's parameters, each (B, *data shape)."""

    def __init__(self, model: LatentModel, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, z: torch.Tensor, *condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        likelihood = self.model.decode(z, *condition)
        shape = (z.shape[0], *self.model.data_shape)
        return tuple(getattr(likelihood, name).expand(shape).detach() for name in self.names)


def _condition_record(model: LatentModel, attribute_names: tuple[str, ...] | None) -> dict:
    """What the second input ``y`` of a conditional model's files holds, for export.json."""
    if model.conditioning == "label":
        return {"input": "y", "kind": "label", "size": model.condition_dim, "encoding": "the class label (0..size-1) one-hot, float32"}
    names = list(attribute_names or ())
    record = {"input": "y", "kind": "attributes", "size": model.condition_dim, "encoding": "each attribute 0 or 1, float32, in this order"}
    return {**record, "names": names} if len(names) == model.condition_dim else record


def _encoder_outputs(model: LatentModel, posterior: object) -> tuple[str, ...]:
    """What the exported encoder gives: an autoencoder's codes, a Gaussian's parameters, else the mode."""
    if model.deterministic:
        return ("codes",)
    return ("mu", "logvar") if isinstance(posterior, DiagonalGaussian) else ("mode",)


def _export_one(module: nn.Module, examples: dict[str, torch.Tensor], outputs: tuple[str, ...], path: Path, fmt: Format) -> None:
    """Write ``module`` called on ``examples`` (input name -> tensor, in call order) to ``path``."""
    args = tuple(examples.values())
    if fmt == "torchscript":
        traced = torch.jit.trace(module, args, check_trace=False)
        traced.save(str(path))
        return
    try:
        import onnx  # noqa: F401 -- torch.onnx needs it
    except ImportError:
        raise ConfigError(f"--format onnx needs the onnx package, which is not installed: {INSTALL}") from None
    axes = {name: {0: "batch"} for name in (*examples, *outputs)}
    torch.onnx.export(module, args, str(path), input_names=list(examples), output_names=list(outputs), dynamic_axes=axes, dynamo=False)


def _run_exported(path: Path, fmt: Format, examples: dict[str, torch.Tensor]) -> list[np.ndarray]:
    if fmt == "torchscript":
        loaded = torch.jit.load(str(path))
        with torch.no_grad():
            return [t.numpy() for t in loaded(*examples.values())]
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(f"checking the ONNX file needs onnxruntime, which is not installed: {INSTALL}") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: t.numpy() for name, t in examples.items()})


def export_run(
    run_dir: tyro.conf.Positional[Path],
    out: Path,
    format: Format = "onnx",  # noqa: A002 -- the --format flag's name
    part: Part = "both",
    weights: Literal["best", "last"] = "best",
    data_dir: Path | None = None,
) -> Path:
    """Export the encoder and/or decoder as standalone ONNX or TorchScript files, checked against vaekit.

    Args:
        run_dir: A run directory written by `vaekit train`.
        out: Directory to write encoder.onnx / decoder.onnx (or .pt) and export.json into.
        format: onnx (for onnxruntime and other runtimes) or torchscript (torch.jit.load, no vaekit needed).
        part: encoder (x [, y] -> mu, logvar; codes; or the mode), decoder (z [, y] -> likelihood parameters), or both.
        weights: best or last.
        data_dir: Look for the run's dataset here first (real test inputs check the exported files).
    """
    config = run.model_config(run_dir)
    model = run.load(run_dir, weights=weights)
    parts = ("encoder", "decoder") if part == "both" else (part,)
    splits = run.load_splits(run_dir, data_dir)
    test = splits.split("test").head(CHECK_EXAMPLES)
    x = test.batch(slice(0, CHECK_EXAMPLES))  # (B, *shape): what the model sees
    condition = test.condition(slice(0, CHECK_EXAMPLES), model.conditioning, model.condition_dim)  # (B, Y) or None
    given = {} if condition is None else {"y": condition}
    with torch.no_grad():
        posterior = model.encode(x, condition)
        z = posterior.mode()  # the decoder is checked on the codes of real test inputs
    encoder = EncoderPart(model, _encoder_outputs(model, posterior)).eval()
    names = PARAMETERS[config.likelihood]
    make_dir(Path(out))
    suffix = ".onnx" if format == "onnx" else ".pt"
    record: dict = {
        "format": format,
        "run": str(run_dir),
        "model": config.kind,
        "likelihood": config.likelihood,
        "input_shape": list(model.data_shape),
        "latent_dim": model.latent_dim,
        "preprocessing": "inputs as vaekit's model sees them: images float32 in [0, 1] (8-bit / 255), table rows as their values",
        "tolerance": TOLERANCE,
    }
    if config.likelihood in ("poisson", "negative-binomial", "zinb"):
        record["library_size"] = float(model.head.library)  # the mean count is exp(log_rho) x a library size
    if condition is not None:
        record["condition"] = _condition_record(model, splits.attribute_names)
    for p in parts:
        if p == "encoder":
            module, examples, outputs = encoder, {"x": x, **given}, encoder.outputs
        else:
            module, examples, outputs = DecoderPart(model, names).eval(), {"z": z, **given}, names
        path = Path(out) / f"{p}{suffix}"
        try:
            with torch.no_grad():
                _export_one(module, examples, outputs, path, format)
                expected = [t.detach().numpy() for t in module(*examples.values())]
        except VaekitError:
            raise
        except Exception as e:  # noqa: BLE001 -- exporters raise many types; the user needs the first line
            raise ConfigError(f"cannot export the {p} of {run_dir} as {format}: {first_line(e, 300)}") from None
        got = _run_exported(path, format, examples)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(got, expected, strict=True))
        scale = max(float(np.abs(b).max()) for b in expected)
        if not math.isfinite(diff) or diff > TOLERANCE * max(1.0, scale):
            path.unlink(missing_ok=True)
            raise ConfigError(f"the exported {p} does not reproduce vaekit's outputs (largest difference {diff:.3g}); nothing was written")
        record[p] = {
            "file": path.name,
            "inputs": {name: ["batch", *list(t.shape[1:])] for name, t in examples.items()},
            "outputs": {name: ["batch", *list(t.shape[1:])] for name, t in zip(outputs, expected, strict=True)},
            "max_abs_difference": diff,
        }
    atomic_write_json(Path(out) / "export.json", record)
    return Path(out)
