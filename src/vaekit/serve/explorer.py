"""What the latent explorer (``vaekit serve``) computes, without the web: one trained run, loaded
once, answering decode / encode / sample / attribute / interpolate / map questions with plain
Python values and PNG images as data URLs.

A conditional model (``cvae``) decodes every latent with the condition the request carries: a class
index for a label-conditioned model, one number per attribute for an attribute-conditioned one.

Every argument a request can carry is checked here (``ConfigError`` / ``DataError`` with a message:
the web layer turns them into 400s), and the model is called under one lock, so several browser
tabs at once are served one decode at a time, each one whole.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vaekit import run
from vaekit.data.images import image_as_example
from vaekit.distributions import DiagonalGaussian
from vaekit.errors import ConfigError
from vaekit.generation import (
    attribute_vector,
    encode_split,
    fit_code_prior,
    kl_order,
    one_hot_labels,
    sample_latents,
    select,
)
from vaekit.generation.interpolate import METHODS, path_times
from vaekit.generation.latent_map import embed_2d
from vaekit.run.samplers import sampler_path, two_stage_dir
from vaekit.runtime.files import atomic_write_bytes, make_dir

MAP_DIR = "explorer"  # RUN/explorer/map-pca.json: the test split's 2-D map, computed once
MAP_EXAMPLES = 2000  # test examples on the map and behind the sliders' ranges
MAX_BATCH = 64  # latents per decode request, samples per sample request
MAX_ABS_Z = 1e3  # a latent coordinate further out than this is refused (the decoder's outputs overflow far sooner)
MAX_STEPS = 64  # images per interpolation
ATTRIBUTE_RANGE = 3.0  # an attribute-conditioned cvae's condition values: 0/1 in the data, past them to exaggerate
FITTED = ("gmm", "flow", "two-stage", "autoregressive")


def png_url(image: torch.Tensor) -> str:
    """One image (C, H, W) in [0, 1] as a PNG data URL."""
    array = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()  # (C, H, W)
    picture = Image.fromarray(array[0], "L") if array.shape[0] == 1 else Image.fromarray(array.transpose(1, 2, 0), "RGB")
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _number(name: str, value: Any, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"'{name}' must be a finite number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"'{name}' must lie in [{lo:g}, {hi:g}], got {value!r}")
    return float(value)


def _integer(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"'{name}' must be a whole number in [{lo}, {hi}], got {value!r}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise ConfigError(f"'{name}' must be one of: {', '.join(choices)}; got {value!r}")
    return value


class Explorer:
    """One run, ready to explore. ``map_examples`` test examples (the valid split when there is no
    test split) give the map, the sliders' ranges and the examples to pick."""

    def __init__(self, run_dir: Path, data_dir: Path | None = None, map_examples: int = MAP_EXAMPLES, seed: int = 0):
        self.run_dir = Path(run_dir)
        self.model = run.load(self.run_dir)
        model = self.model
        if len(model.data_shape) != 3 or model.data_shape[0] not in (1, 3):
            raise ConfigError(f"vaekit serve shows images; the data of {self.run_dir} are rows of shape {tuple(model.data_shape)}")
        self.splits = run.load_splits(self.run_dir, data_dir)
        examples = self.splits.test if len(self.splits.test) else self.splits.valid
        self.examples = examples.head(min(map_examples, len(examples)))
        self.seed = seed
        self.lock = threading.Lock()
        codes = encode_split(model, self.examples)
        self.codes = codes.mu  # (N, D)
        self.order = kl_order(model, self.examples, codes=codes)
        standard = model.has_prior and isinstance(model.prior(1), DiagonalGaussian)
        self.centre = torch.zeros(model.latent_dim) if standard else self.codes.mean(0)  # (D,)
        self.scale = torch.ones(model.latent_dim) if standard else self.codes.std(0).clamp(min=1e-3)  # (D,)
        # KL to N(0, 1) per dimension, where that is the prior (not a VampPrior's mixture, not an autoencoder)
        self.kl = DiagonalGaussian(codes.mu, codes.logvar).kl_per_dim().mean(0) if standard and codes.logvar is not None else None
        self._fitted: dict[str, Any] = {}  # samplers read from the run directory, once each
        self.code_prior = fit_code_prior(model, self.splits.train) if model.codebook_size else None
        self._attributes: dict[str, torch.Tensor] = {}
        # the training codes behind the attribute sliders, encoded now: done on the first slider move,
        # it held the model's lock for seconds (16,000 faces) and every other view waited
        self._train_means = encode_split(model, self.splits.train).mu if self.attribute_names() else None  # (N_train, D)
        self._maps: dict[str, dict] = {}

    # ------------------------------------------------------------------ what the page needs first
    def samplers(self) -> list[str]:
        have = [
            kind
            for kind in FITTED
            if sampler_path(self.run_dir, kind).is_file() or (kind == "two-stage" and two_stage_dir(self.run_dir).is_dir())
        ]
        if self.model.codebook_size:
            return ["codes", *(k for k in have if k == "autoregressive")]
        return (["prior"] if self.model.has_prior else []) + [k for k in have if k != "autoregressive"]

    def attribute_names(self) -> list[str]:
        """Sliders the data offer: 'label=NAME' for each class, then each binary attribute. None at
        all for a cvae: its code holds what the condition does not (a digit's style), and the condition control
        is the edit."""
        if self.model.conditioning is not None:
            return []
        names = []
        if self.splits.train.labels is not None:
            classes = self.splits.classes or [str(c) for c in range(int(self.splits.train.labels.max()) + 1)]
            names += [f"label={c}" for c in classes]
        names += list(self.splits.attribute_names or ())
        return names

    def info(self) -> dict[str, Any]:
        config = run.data_config(self.run_dir)
        model = self.model
        return {
            "run": self.run_dir.name,
            "model": type(model).__name__,
            "data": self.splits.name,
            "shape": list(model.data_shape),
            "latent_dim": model.latent_dim,
            "order": self.order,
            "kl": None if self.kl is None else [round(float(v), 4) for v in self.kl],
            "centre": [round(float(v), 4) for v in self.centre],
            "scale": [round(float(v), 4) for v in self.scale],
            "samplers": self.samplers(),
            "attributes": self.attribute_names(),
            "examples": len(self.examples),
            "image_size": config.image_size,
            "condition": self._condition_info(),
        }

    def _condition_info(self) -> dict[str, Any] | None:
        """What the page's condition control offers: the classes, or the attributes, of a cvae."""
        model = self.model
        if model.conditioning == "label":
            return {"kind": "label", "classes": [self._label_name(c) for c in range(model.condition_dim)]}
        if model.conditioning == "attributes":
            names = list(self.splits.attribute_names or ())
            if len(names) != model.condition_dim:
                names = [f"attribute {i}" for i in range(model.condition_dim)]
            return {"kind": "attributes", "names": names, "range": [-ATTRIBUTE_RANGE, ATTRIBUTE_RANGE]}
        return None

    # ------------------------------------------------------------------ checked inputs
    def latents(self, value: Any, name: str = "z", batch: bool = True) -> torch.Tensor:
        """A list of latents (or one latent when ``batch`` is False) as a tensor (B, D), checked."""
        rows = value if batch else [value]
        d = self.model.latent_dim
        if not isinstance(rows, list) or not rows or len(rows) > MAX_BATCH:
            raise ConfigError(f"'{name}' must be a list of 1 to {MAX_BATCH} latents of {d} numbers each")
        for row in rows:
            if not isinstance(row, list) or len(row) != d:
                raise ConfigError(f"'{name}': every latent must be a list of {d} numbers (this model's latent size)")
            for v in row:
                _number(name, v, -MAX_ABS_Z, MAX_ABS_Z)
        return torch.tensor(rows, dtype=torch.float32)

    def condition(self, value: Any) -> torch.Tensor | None:
        """The request's ``condition`` as the (1, Y) vector a cvae decodes with, checked: a class index
        (label-conditioned) or one number per attribute; None, and nothing may be sent, for other models."""
        model = self.model
        if model.conditioning is None:
            if value is not None:
                raise ConfigError("'condition' is for conditional models (cvae); this one is unconditional")
            return None
        if model.conditioning == "label":
            if value is None:
                raise ConfigError(
                    f"this model is conditioned on class labels: send 'condition', a class index 0..{model.condition_dim - 1}"
                )
            return one_hot_labels([_integer("condition", value, 0, model.condition_dim - 1)], model.condition_dim)  # (1, Y)
        a = model.condition_dim
        if not isinstance(value, list) or len(value) != a:
            raise ConfigError(f"this model is conditioned on attributes: send 'condition', a list of {a} numbers (one per attribute)")
        numbers = [_number("condition", v, -ATTRIBUTE_RANGE, ATTRIBUTE_RANGE) for v in value]
        return torch.tensor([numbers], dtype=torch.float32)  # (1, A)

    def _as_request(self, condition: torch.Tensor) -> int | list[float]:
        """A (1, Y) condition as a request would send it (the inverse of ``condition``)."""
        if self.model.conditioning == "label":
            return int(condition[0].argmax())
        return [round(float(v), 4) for v in condition[0]]

    # ------------------------------------------------------------------ the model's answers
    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> list[str]:
        """PNGs of the decoded latents z (B, D), with the checked ``condition`` (1, Y) for every row."""
        y = None if condition is None else condition.expand(z.shape[0], -1)
        with self.lock, torch.no_grad():
            images = self.model.decode(z, y).mean  # (B, C, H, W)
        return [png_url(image) for image in images]

    def sample(self, n: Any = 16, temperature: Any = 1.0, seed: Any = 0, sampler: Any = None, condition: Any = None) -> dict[str, Any]:
        y = self.condition(condition)
        n = _integer("n", n, 1, MAX_BATCH)
        temperature = _number("temperature", temperature, 0.0, 5.0)
        seed = _integer("seed", seed, 0, 2**31 - 1)
        available = self.samplers()
        if not available:
            raise ConfigError(
                f"this {type(self.model).__name__} has no prior to sample; fit one first: vaekit fit-sampler {self.run_dir} --sampler gmm"
            )
        sampler = _choice("sampler", available[0] if sampler is None else sampler, available)
        generator = torch.Generator().manual_seed(seed)
        with self.lock, torch.no_grad():
            if sampler in ("prior", "codes"):
                z = sample_latents(self.model, n, generator, temperature, code_prior=self.code_prior)
            else:
                if sampler not in self._fitted:
                    self._fitted[sampler] = run.load_sampler(self.run_dir, sampler, self.model.latent_dim)
                fitted = self._fitted[sampler]
                if sampler == "autoregressive":
                    z = sample_latents(self.model, n, generator, temperature, code_prior=fitted)
                else:
                    z = sample_latents(self.model, n, generator, temperature, sampler=fitted)
        return {"z": z.tolist(), "images": self.decode(z, y), "sampler": sampler}

    def encode_image(self, data: bytes, condition: Any = None) -> dict[str, Any]:
        """An uploaded image, resized like the model's data: its code, itself as the model sees it,
        and its reconstruction (a cvae encodes and decodes it with ``condition``: a file has none)."""
        y = self.condition(condition)
        array = image_as_example(io.BytesIO(data), self.model.data_shape, "the uploaded image")  # (C, H, W) uint8
        x = torch.from_numpy(array).float().div(255)[None]  # (1, C, H, W)
        with self.lock, torch.no_grad():
            z = self.model.encode(x, y).mode()  # (1, D)
        return {"z": z[0].tolist(), "input": png_url(x[0]), "image": self.decode(z, y)[0]}

    def example(self, index: Any) -> dict[str, Any]:
        """Test example ``index``: its code, itself, its reconstruction, its label (and, for a cvae, its
        own condition, which encoded it and decodes it)."""
        index = _integer("index", index, 0, len(self.examples) - 1)
        z = self.codes[index : index + 1]
        labels = self.examples.labels
        y = self.examples.condition(slice(index, index + 1), self.model.conditioning, self.model.condition_dim)  # (1, Y) or None
        return {
            "index": index,
            "z": z[0].tolist(),
            "input": png_url(self.examples.batch(slice(index, index + 1))[0]),
            "image": self.decode(z, y)[0],
            "label": None if labels is None else self._label_name(int(labels[index])),
            "condition": None if y is None else self._as_request(y),
        }

    def _label_name(self, label: int) -> str:
        classes = self.splits.classes
        return classes[label] if classes and label < len(classes) else str(label)

    def attribute(self, name: Any) -> list[float]:
        """The attribute vector ``name`` (mean code with it minus without it, from the training split)."""
        name = _choice("name", name, self.attribute_names())
        if name not in self._attributes:
            present = select(self.splits, self.splits.train, name)  # as `vaekit attribute --attribute NAME` selects
            self._attributes[name] = attribute_vector(self._train_means, present)  # (D,)
        return self._attributes[name].tolist()

    def difference(self, a: Any, b: Any) -> list[float]:
        """A user-made attribute: the mean of the codes in group ``a`` minus that of group ``b``."""
        za, zb = self.latents(a, "a"), self.latents(b, "b")
        return (za.mean(0) - zb.mean(0)).tolist()

    def interpolate(
        self, a: Any, b: Any, steps: Any = 9, mode: Any = "lerp", extrapolate: Any = 0.0, condition: Any = None
    ) -> dict[str, Any]:
        y = self.condition(condition)
        za, zb = self.latents(a, "a", batch=False), self.latents(b, "b", batch=False)
        steps = _integer("steps", steps, 2, MAX_STEPS)
        mode = _choice("mode", mode, ("lerp", "slerp"))
        extrapolate = _number("extrapolate", extrapolate, 0.0, 2.0)
        t = path_times(steps, extrapolate)  # (S,)
        path = METHODS[mode](za[0], zb[0], t)  # (S, D)
        return {"t": [round(float(v), 4) for v in t], "z": path.tolist(), "images": self.decode(path, y)}

    # ------------------------------------------------------------------ the 2-D map
    def latent_map(self, method: Any = "pca") -> dict[str, Any]:
        """The examples' codes in 2-D (cached in RUN/explorer/map-METHOD.json), with their labels."""
        method = _choice("method", method, ("pca", "tsne"))
        if method in self._maps:
            return self._maps[method]
        path = self.run_dir / MAP_DIR / f"map-{method}.json"
        cached = _read_map(path, len(self.examples), self.model.latent_dim)
        if cached is None:
            cached = self._compute_map(method)
            make_dir(path.parent)
            atomic_write_bytes(path, json.dumps(cached).encode())
        labels = self.examples.labels
        cached["labels"] = None if labels is None else [self._label_name(int(v)) for v in labels]
        self._maps[method] = cached
        return cached

    def _compute_map(self, method: str) -> dict[str, Any]:
        codes, d = self.codes, self.model.latent_dim
        if d == 2:
            return {"method": "latent", "examples": len(codes), "latent_dim": d, "points": codes.tolist()}
        points = embed_2d(codes, method, self.seed)  # (N, 2)
        result = {"method": method, "examples": len(codes), "latent_dim": d, "points": points.tolist()}
        if method == "pca":  # the axes, so any point of the map decodes: z = mean + p @ axes
            mean = codes.mean(0)
            _, _, v = torch.linalg.svd(codes - mean, full_matrices=False)
            result |= {"mean": mean.tolist(), "axes": v[:2].tolist()}
        return result

    def map_point(self, x: Any, y: Any, method: Any = "pca", condition: Any = None) -> dict[str, Any]:
        """The latent at map position (x, y) and its decoding: the latent itself for a 2-D model, the
        PCA plane's point, or (t-SNE has no inverse) the nearest example's code."""
        given = self.condition(condition)
        found = self.latent_map(method)
        p = torch.tensor([_number("x", x, -MAX_ABS_Z, MAX_ABS_Z), _number("y", y, -MAX_ABS_Z, MAX_ABS_Z)])
        if found["method"] == "latent":
            z = p[None]
        elif "axes" in found:
            z = (torch.tensor(found["mean"]) + p @ torch.tensor(found["axes"]))[None]  # (1, D)
        else:
            nearest = int(torch.cdist(p[None], torch.tensor(found["points"])).argmin())
            z = self.codes[nearest : nearest + 1]
        return {"z": z[0].tolist(), "image": self.decode(z, given)[0]}


def _read_map(path: Path, examples: int, latent_dim: int) -> dict | None:
    """A cached map that matches this run's examples, else None (a damaged or stale file is recomputed)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict):
        return None
    points = found.get("points")
    if (
        found.get("examples") != examples
        or found.get("latent_dim") != latent_dim
        or not isinstance(points, list)
        or len(points) != examples
    ):
        return None
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return found if array.shape == (examples, 2) and np.isfinite(array).all() else None
