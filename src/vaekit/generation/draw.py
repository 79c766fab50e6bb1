"""Generating new data: the one path every tool that samples goes through (``vaekit sample``, the
training image grids, ``evaluate --fid``, the report), and reconstructing data through the model.

``sample`` draws z from the model's prior (scaled by a temperature), or code vectors from a
VQ-VAE's fitted code prior, decodes them with the given conditions (conditional VAEs), and
returns the means of p(x|z), a chunk at a time when asked.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from vaekit.data import InMemoryDataset
from vaekit.distributions import Prior
from vaekit.errors import ConfigError
from vaekit.generation.codes import sample_codes
from vaekit.models import LatentModel
from vaekit.models.code_prior import CodeTransformer
from vaekit.runtime import memory
from vaekit.runtime.checks import at_least, in_range

FLOAT = 4  # bytes


def _check(
    model: LatentModel, n: int, temperature: float, condition: torch.Tensor | None, code_prior: object, sampler: Prior | None
) -> None:
    at_least("n", n, 1)
    in_range("temperature", temperature, 0)
    if sampler is not None and model.codebook_size:
        raise ConfigError("a fitted sampler draws continuous codes: a VQ-VAE's are indices (use --sampler autoregressive)")
    if sampler is None and model.codebook_size:
        if code_prior is None:
            raise ConfigError(
                "a VQ-VAE samples codes from a prior fitted to its training codes: pass code_prior=fit_code_prior(model, train)"
            )
        return
    if sampler is None and not model.has_prior:
        model.prior(1)  # raises: a plain autoencoder has no prior
    # a cvae's fitted sampler draws codes from all the classes' codes (what the condition does not say), decoded with the condition
    if model.conditioning is not None and (condition is None or tuple(condition.shape) != (n, model.condition_dim)):
        raise ConfigError(
            f"this {model.conditioning}-conditioned model needs a condition of shape ({n}, {model.condition_dim}) "
            "for its samples (see sample_conditions)"
        )


@torch.no_grad()
def sample_latents(
    model: LatentModel,
    m: int,
    generator: torch.Generator | None,
    temperature: float = 1.0,
    code_prior: torch.Tensor | CodeTransformer | None = None,
    sampler: Prior | None = None,
    top_k: int | None = None,
) -> torch.Tensor:
    """m latents to decode, (m, D): from the prior, a fitted ``sampler``, or a VQ-VAE's ``code_prior``
    (then the codebook vectors of the drawn codes). See ``sample`` for the arguments."""
    if code_prior is not None and model.codebook_size:
        if isinstance(code_prior, CodeTransformer):  # the fitted autoregressive prior
            return model.embed(code_prior.sample(m, generator, temperature, top_k))
        return model.embed(sample_codes(code_prior, m, generator, temperature))
    prior = model.prior(m) if sampler is None else replace(sampler, batch=m)
    return prior.rsample(generator, temperature=temperature)  # (m, D)


def _decoded(
    model: LatentModel,
    m: int,
    generator: torch.Generator | None,
    temperature: float,
    condition: torch.Tensor | None,
    code_prior: torch.Tensor | CodeTransformer | None,
    sampler: Prior | None,
    top_k: int | None = None,
) -> torch.Tensor:
    z = sample_latents(model, m, generator, temperature, code_prior, sampler, top_k)  # (m, D)
    return model.decode(z, condition).mean  # a VQ-VAE is never conditional: its condition is None


@torch.no_grad()
def sample(
    model: LatentModel,
    n: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    condition: torch.Tensor | None = None,
    code_prior: torch.Tensor | CodeTransformer | None = None,
    chunk: int | None = None,
    sampler: Prior | None = None,
    top_k: int | None = None,
) -> torch.Tensor:
    """n samples of the model: the mean of p(x|z[, y]) for z ~ N(0, temperature^2 I), (n, C, H, W).

    The mean (pixel probabilities for a Bernoulli decoder) is what papers show as 'samples';
    drawing from p(x|z) as well only adds pixel noise.

    Args:
        model: a model with a prior, or a VQ-VAE with ``code_prior``.
        n: how many samples.
        generator: the randomness (pass a seeded one to repeat results).
        temperature: scale of the prior's standard deviation (below 1: more typical samples; 0:
            the prior's mean); for a VQ-VAE, of the code prior's logits.
        condition: (n, Y) conditions of a conditional model, e.g. ``sample_conditions``.
        code_prior: (M, K) log-probabilities of a VQ-VAE's codes (``fit_code_prior``), or its fitted
            autoregressive prior (``run.load_sampler(run_dir, "autoregressive", D)``).
        chunk: decode this many at a time (default: all at once).
        sampler: a density fitted to the codes (``run.load_sampler``) to draw z from instead of
            the prior; the only way an autoencoder without a prior generates.
        top_k: with the autoregressive code prior, sample each slot from its k most likely codes.
    """
    _check(model, n, temperature, condition, code_prior, sampler)
    chunk = n if chunk is None else at_least("chunk", chunk, 1)
    memory.require(n * math.prod(model.data_shape) * FLOAT * 2, f"{n:,} samples", "ask for fewer (--n)")
    parts = []
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        y = None if condition is None else condition[start : start + m]
        parts.append(_decoded(model, m, generator, temperature, y, code_prior, sampler, top_k))
    return torch.cat(parts)


def sample_conditions(model: LatentModel, n: int, label: int | None = None, examples: InMemoryDataset | None = None) -> torch.Tensor | None:
    """Conditions for n samples: the given label, else the classes in turn (label-conditioned
    models), the attribute vectors of the first n examples in turn (attribute-conditioned), or None."""
    if label is not None:
        return label_condition(model, label, n)
    if model.conditioning == "label":
        return one_hot_labels([i % model.condition_dim for i in range(n)], model.condition_dim, next(model.parameters()).device)
    if model.conditioning == "attributes":
        if examples is None or len(examples) == 0:
            raise ConfigError("an attribute-conditioned model samples with the attribute vectors of examples: pass examples")
        return examples.condition(torch.arange(n, device=examples.x.device) % len(examples), "attributes", model.condition_dim)
    return None


def condition_noun(model: LatentModel) -> str:
    """What a conditional model is conditioned on, in words: 'labels' or 'attributes'."""
    return {"label": "labels", "attributes": "attributes"}.get(model.conditioning, str(model.conditioning))


def label_condition(model: LatentModel, label: int, rows: int = 1) -> torch.Tensor:
    """``--label`` as the (rows, classes) one-hot condition of a label-conditioned model, checked."""
    if model.conditioning != "label":
        kind = "an unconditional model" if model.conditioning is None else f"conditioned on {condition_noun(model)}, not labels"
        raise ConfigError(f"--label needs a run of a label-conditioned model (--model cvae); this one is {kind}")
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < model.condition_dim:
        raise ConfigError(f"--label {label}: this model knows the classes 0..{model.condition_dim - 1}")
    return one_hot_labels([label] * rows, model.condition_dim, next(model.parameters()).device)


def need_conditions(model: LatentModel, conditions: tuple[torch.Tensor | None, ...], rows: int) -> tuple[torch.Tensor | None, ...]:
    """The conditions a tool was given, checked against the model: all None for an unconditional
    model; (rows, condition_dim) each for a conditional one, else a ConfigError that says what is missing."""
    if model.conditioning is None:
        if any(c is not None for c in conditions):
            raise ConfigError("conditions were given for an unconditional model; only a conditional one (cvae) takes them")
        return conditions
    if any(c is None for c in conditions):
        raise ConfigError(f"this model is conditioned on {condition_noun(model)}: give the inputs' conditions")
    for c in conditions:
        if tuple(c.shape) != (rows, model.condition_dim):
            raise ConfigError(
                f"a condition of shape {tuple(c.shape)} for a model conditioned on {model.condition_dim} {model.conditioning} values"
            )
    return tuple(conditions)


@torch.no_grad()
def reconstruct(model: LatentModel, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
    """Decode the posterior mode of x: the mean of p(x | z = mode of q(z|x)), (B, C, H, W)."""
    return model.decode(model.encode(x, condition).mode(), condition).mean


def one_hot_labels(labels: torch.Tensor | list[int], classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Conditions for a label-conditioned model, (n, classes)."""
    labels = torch.as_tensor(labels, device=device)
    if labels.dtype.is_floating_point or (labels < 0).any() or (labels >= classes).any():
        raise ConfigError(f"labels must be integers in 0..{classes - 1} for this model, got {labels.unique().tolist()}")
    return torch.nn.functional.one_hot(labels, classes).to(torch.float32)  # (n, classes)


def interleave_rows(originals: torch.Tensor, *others: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """Stack rows so each row of originals sits above the same row of each of ``others`` (their
    reconstructions, edits...), ((1 + len(others)) * B padded to rows, C, H, W)."""
    chunks = []
    for start in range(0, originals.shape[0], nrow):
        group = [t[start : start + nrow] for t in (originals, *others)]
        blank = torch.ones(nrow - group[0].shape[0], *originals.shape[1:], device=originals.device)  # pads a short last row
        chunks += [torch.cat([g, blank]) for g in group]
    return torch.cat(chunks)


@torch.no_grad()
def recondition(model: LatentModel, x: torch.Tensor, condition: torch.Tensor, targets: list[torch.Tensor]) -> torch.Tensor:
    """A conditional model's what-if: each input x (B, C, H, W) encoded with its own ``condition``
    (B, Y), its code decoded with each condition of ``targets`` ((B, Y) each). The code keeps what the
    condition does not say (a digit's style), the decoder is told the rest (its class): Kingma et al.
    2014's analogies, Sohn et al. 2015.

    Returns:
        (B * len(targets), C, H, W): one row per input, one column per target.
    """
    if not targets:
        raise ConfigError("recondition needs at least one target condition")
    (condition,) = need_conditions(model, (condition,), x.shape[0])
    need_conditions(model, tuple(targets), x.shape[0])
    memory.require(
        x.shape[0] * len(targets) * math.prod(model.data_shape) * 4, f"{x.shape[0] * len(targets):,} decoded images", "give fewer inputs"
    )
    z = model.encode(x, condition).mode()  # (B, D)
    decoded = torch.stack([model.decode(z, y).mean for y in targets], 1)  # (B, T, C, H, W)
    return decoded.flatten(0, 1)
