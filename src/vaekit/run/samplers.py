"""Fitted samplers in a run directory: ``RUN/samplers/KIND.safetensors``, one file per kind holding
the density's tensors and, as its JSON metadata, the kind, the fitting options and the fit's
log-likelihoods (one atomic file: a killed write never leaves a half sampler)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vaekit.distributions import DensityPrior, FullGaussianMixture
from vaekit.errors import RunDirError
from vaekit.models.code_prior import CodeTransformer
from vaekit.models.flows import MAF
from vaekit.run.loading import load
from vaekit.runtime.files import load_tensors, save_tensors

SAMPLERS_DIR = "samplers"


def sampler_path(run_dir: Path, kind: str) -> Path:
    return Path(run_dir) / SAMPLERS_DIR / f"{kind}.safetensors"


def save_sampler(run_dir: Path, kind: str, tensors: dict[str, torch.Tensor], info: dict) -> Path:
    """Write a fitted sampler atomically; ``info`` (JSON-able) travels as the file's metadata."""
    path = sampler_path(run_dir, kind)
    path.parent.mkdir(exist_ok=True)
    save_tensors(
        path, {k: v.detach().cpu().contiguous() for k, v in tensors.items()}, {"vaekit_sampler": json.dumps({"kind": kind, **info})}
    )
    return path


def _again(run_dir: Path, kind: str) -> str:
    return f"fit it again: vaekit fit-sampler {run_dir} --sampler {kind}"


def sampler_info(run_dir: Path, kind: str) -> dict:
    """The metadata saved with a sampler (kind, options, log-likelihoods)."""
    return _read(run_dir, kind)[1]


def _read(run_dir: Path, kind: str) -> tuple[dict[str, torch.Tensor], dict]:
    path = sampler_path(run_dir, kind)
    if not path.exists():
        raise RunDirError(f"{run_dir} has no {kind} sampler; fit one first: vaekit fit-sampler {run_dir} --sampler {kind}")
    again = _again(run_dir, kind)
    try:
        tensors, metadata = load_tensors(path)
    except RunDirError:
        raise RunDirError(f"{path} is damaged (not a readable safetensors file); {again}") from None
    try:
        info = json.loads(metadata["vaekit_sampler"])
    except (KeyError, ValueError, TypeError) as e:
        raise RunDirError(f"{path} is damaged (its metadata: {e}); {again}") from None
    if not isinstance(info, dict) or info.get("kind") != kind:
        raise RunDirError(f"{path} is not a {kind} sampler; {again}")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise RunDirError(f"{path} holds non-finite numbers; {again}")
    return tensors, info


def two_stage_dir(run_dir: Path) -> Path:
    """Where the two-stage sampler's second VAE is trained: a run directory of its own."""
    return Path(run_dir) / SAMPLERS_DIR / "two-stage"


def _two_stage(run_dir: Path, latent_dim: int) -> DensityPrior:
    """Dai & Wipf (2019)'s second stage: u ~ N(0, I), z = the mean of the second VAE's p(z|u)."""
    second = load(two_stage_dir(run_dir))
    if second.data_shape != (latent_dim,):
        raise RunDirError(f"{two_stage_dir(run_dir)} models codes of shape {second.data_shape}, not ({latent_dim},); fit it again")

    def draw(generator: torch.Generator | None, count: int, temperature: float) -> torch.Tensor:
        with torch.no_grad():
            return second.decode(second.prior(count).rsample(generator, temperature=temperature)).mean  # (count, D)

    def density(z: torch.Tensor) -> torch.Tensor:
        raise RunDirError("the two-stage sampler has no closed-form density (its second VAE gives only a bound); sample it")

    return DensityPrior(density, draw, 1)


def load_sampler(run_dir: Path, kind: str, latent_dim: int) -> FullGaussianMixture | DensityPrior | CodeTransformer:
    """The fitted sampler ``kind`` of a run, as a prior-like object over latents of size ``latent_dim``."""
    tensors, info = _read(run_dir, kind)
    path = sampler_path(run_dir, kind)
    if kind == "two-stage":
        return _two_stage(run_dir, latent_dim)
    try:
        if kind == "autoregressive":  # a VQ-VAE's code prior
            options = info["options"]
            prior = CodeTransformer(int(options["codebook_size"]), int(options["slots"]))
            prior.load_state_dict(tensors)
            ok = prior.slots * (latent_dim // prior.slots) == latent_dim
        elif kind == "gmm":
            prior = FullGaussianMixture(tensors["means"], tensors["scale_tril"], tensors["log_weights"], 1)
            ok = prior.mu.dim() == 2 and prior.scale_tril.shape == (*prior.mu.shape, prior.mu.shape[1]) and prior.mu.shape[1] == latent_dim
            ok = ok and prior.log_weights.shape == prior.mu.shape[:1]
        else:
            options = info["options"]
            flow = MAF(latent_dim, int(options["hidden"]), int(options["layers"]))
            flow.load_state_dict(tensors)
            prior, ok = flow.as_prior(), True
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        raise RunDirError(f"{path} does not fit this run's model ({e}); {_again(run_dir, kind)}") from None
    if not ok:
        raise RunDirError(f"{path} does not fit latents of size {latent_dim}; {_again(run_dir, kind)}")
    return prior
