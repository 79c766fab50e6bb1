"""Sample quality without internet: Fréchet distance and precision/recall in a learned feature space.

This is **not** Inception FID. FID (Heusel et al. 2017) measures distances in the pool features of
an Inception-v3 network pretrained on ImageNet; those weights cannot be downloaded here, and
ImageNet features suit 28x28 digits poorly anyway. vaekit instead trains a small convolutional
classifier on the *training split of the same dataset* (on its labels, or, for unlabeled data,
on predicting which of four flips was applied, a self-supervised task in the manner of Gidaris et
al. 2018), caches it, and measures samples against the test split in its 128-d penultimate
features. Numbers are comparable between models evaluated on the same dataset with the same
vaekit version, not with published FIDs.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vaekit.data import InMemoryDataset
from vaekit.errors import DataError, VaekitError
from vaekit.models.networks import ConvEncoder, mlp
from vaekit.runtime.files import load_tensors, save_tensors

FEATURES = 128
VERSION = "2"  # bump when the network or its training changes: cached classifiers are keyed on it
EPOCHS = 3
MIN_STEPS = 1000  # small training splits (digits, shapes) get more passes
# The attribute judge of --edits: with 1000 steps on 4,050 training faces its weakest attribute (angry_brows) was
# read 76 % right; with 3000 steps on the default 16,200 (82 s here) 91 %, and a perfect smile edit kept the other
# attributes 0.84 of the time (tests/evaluation/test_edits.py, marked slow, prints it).
ATTRIBUTE_STEPS = 3000
BATCH = 128
SEED = 0
MAX_SIDE = 32
PR_NEIGHBOURS = 3  # k of the k-NN manifolds (Kynkäänniemi et al. 2019)


class FeatureNet(nn.Module):
    """A classifier whose penultimate layer (128-d, ReLU) is the feature space."""

    def __init__(self, shape: tuple[int, ...], classes: int):
        super().__init__()
        if len(shape) == 3:
            # Images larger than 32x32 are average-pooled to at most 32x32 first: cheap, and enough to tell classes apart.
            pool = max(1, math.ceil(max(shape[1:]) / MAX_SIDE))
            pooled = (shape[0], shape[1] // pool, shape[2] // pool)
            self.body = nn.Sequential(
                nn.AvgPool2d(pool) if pool > 1 else nn.Identity(),
                ConvEncoder(pooled, FEATURES, width=32, depth=None, activation="relu"),
                nn.ReLU(),
            )
        else:
            self.body = mlp([math.prod(shape), 256, FEATURES], "relu", final_activation="relu")
        self.head = nn.Linear(FEATURES, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x if x.dim() == 4 else x.flatten(1))  # (B, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, classes)


def flips(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The self-supervised task for unlabeled images: each image in one of four flips, and which.

    Flips (not 90-degree rotations) keep non-square images (Frey faces, 28x20) their shape.

    Returns:
        (x_flipped (B, C, H, W), flip index (B,) in 0..3).
    """
    task = torch.arange(x.shape[0], device=x.device) % 4  # (B,)
    out = x.clone()
    out[task % 2 == 1] = out[task % 2 == 1].flip(-1)  # horizontal
    out[task >= 2] = out[task >= 2].flip(-2)  # vertical
    return out, task


TASKS = ("labels", "flips", "attributes")  # what a FeatureNet learns: the class, which flip, or every binary attribute


@dataclass(frozen=True)
class FeatureExtractor:
    """A trained ``FeatureNet`` and what it learned: ``task`` is one of ``TASKS``."""

    net: FeatureNet
    task: str
    accuracy: float  # on the held-out split it was checked against (for attributes: the mean over them)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The attributes it sees in images (N, C, H, W) in [0, 1], (N, A) bool (task 'attributes')."""
        self.net.eval()
        device = next(self.net.parameters()).device
        return torch.cat([self.net(x[i : i + batch_size].to(device)).cpu() > 0 for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Features of images in [0, 1], (N, F) float64 on the CPU."""
        self.net.eval()
        device = next(self.net.parameters()).device
        return torch.cat([self.net.features(x[i : i + batch_size].to(device)).double().cpu() for i in range(0, len(x), batch_size)])


def _task_batch(
    data: InMemoryDataset, index: torch.Tensor, generator: torch.Generator | None, task: str
) -> tuple[torch.Tensor, torch.Tensor]:
    x = data.batch(index, generator)  # (B, C, H, W)
    if task == "attributes":
        return x, data.attributes[index].to(torch.float32)  # (B, A)
    return (x, data.labels[index]) if task == "labels" else flips(x)


def _loss(logits: torch.Tensor, target: torch.Tensor, task: str) -> torch.Tensor:
    if task == "attributes":  # independent binary attributes
        return nn.functional.binary_cross_entropy_with_logits(logits, target)
    return nn.functional.cross_entropy(logits, target)


def _accuracy(net: FeatureNet, data: InMemoryDataset, task: str) -> float:
    net.eval()
    correct = 0.0
    with torch.no_grad():
        for start in range(0, len(data), 1000):
            index = torch.arange(start, min(start + 1000, len(data)), device=data.x.device)
            x, target = _task_batch(data, index, None, task)
            logits = net(x)
            right = (logits > 0) == target.bool() if task == "attributes" else logits.argmax(1) == target
            correct += float(right.double().mean(-1).sum() if task == "attributes" else right.sum())
    return correct / max(len(data), 1)


def _task(data: InMemoryDataset, task: str | None) -> str:
    """The task asked for, or the one the data allow: labels if it has them, else flips of images."""
    if task is not None:
        if task not in TASKS:
            raise DataError(f"unknown classifier task '{task}'; choose one of: {', '.join(TASKS)}")
        if task == "attributes" and data.attributes is None:
            raise DataError("an attribute classifier needs data with binary attributes (faces, fonts, folder:PATH --attributes)")
        return task
    if data.labels is None and len(data.shape) != 3:
        raise DataError("--fid needs class labels or images: this dataset is unlabeled tabular rows")
    return "labels" if data.labels is not None else "flips"


def train_feature_net(
    train: InMemoryDataset, check: InMemoryDataset, epochs: int = EPOCHS, min_steps: int | None = None, task: str | None = None
) -> FeatureExtractor:
    """Train the classifier on ``train`` (labels, or flips without them, or the binary attributes
    with ``task='attributes'``) for ``epochs`` passes or ``min_steps`` steps, whichever is more; its
    accuracy is measured on ``check``."""
    task = _task(train, task)
    classes = {"labels": lambda: int(train.labels.max()) + 1, "flips": lambda: 4, "attributes": lambda: train.attributes.shape[1]}[task]()
    with torch.random.fork_rng(devices=[]):  # the initialisation is seeded; the caller's global RNG is left as it was
        torch.manual_seed(SEED)
        net = FeatureNet(train.shape, classes).to(train.x.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    generator = torch.Generator(device=train.x.device).manual_seed(SEED)
    steps_per_epoch = math.ceil(len(train) / BATCH)
    if min_steps is None:
        min_steps = ATTRIBUTE_STEPS if task == "attributes" else MIN_STEPS
    for _ in range(max(epochs, math.ceil(min_steps / steps_per_epoch))):
        net.train()
        order = torch.randperm(len(train), generator=generator, device=train.x.device)  # (N,)
        for start in range(0, len(train), BATCH):
            x, target = _task_batch(train, order[start : start + BATCH], generator, task)
            loss = _loss(net(x), target, task)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return FeatureExtractor(net, task, _accuracy(net, check, task))


def _fingerprint(data: InMemoryDataset, task: str) -> str:
    h = hashlib.sha256(f"{VERSION}|{tuple(data.x.shape)}|{data.scale}|{data.dynamic_binarize}".encode())
    h.update(data.x.cpu().numpy().tobytes())
    if data.labels is not None:
        h.update(data.labels.cpu().numpy().tobytes())
    if task == "attributes":  # (the label and flip classifiers keep the keys they had)
        h.update(b"attributes" + data.attributes.cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def feature_extractor(name: str, train: InMemoryDataset, check: InMemoryDataset, cache: Path, task: str | None = None) -> FeatureExtractor:
    """The classifier for this training split: loaded from ``cache`` if it was trained before, else
    trained (a few seconds to a minute) and saved there. The key hashes the training data itself,
    so a different --limit or binarization gets its own classifier."""
    task = _task(train, task)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ("-attributes" if task == "attributes" else "")
    path = Path(cache) / "features" / f"{stem}-{_fingerprint(train, task)}.safetensors"
    if path.exists():
        try:
            tensors, meta = load_tensors(path, train.x.device)
            net = FeatureNet(train.shape, int(meta["classes"])).to(train.x.device)
            net.load_state_dict(tensors)
            return FeatureExtractor(net, meta["task"], float(meta["accuracy"]))
        except (VaekitError, KeyError, ValueError, RuntimeError):
            pass  # a damaged or foreign cache file: train again and replace it
    extractor = train_feature_net(train, check, task=task)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "task": extractor.task,
        "accuracy": repr(extractor.accuracy),
        "classes": str(extractor.net.head.out_features),
        "version": VERSION,
    }
    save_tensors(path, {k: v.detach().cpu() for k, v in extractor.net.state_dict().items()}, meta)
    return extractor


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F):
    ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))  (Dowson & Landau 1982; Heusel et al. 2017).

    The matrix square root is scipy's ``sqrtm``, as in the reference FID code; a product too close
    to singular for it gets a small diagonal offset first, and the tiny imaginary part that
    rounding leaves is dropped.
    """
    from scipy import linalg

    a, b = a.double().cpu().numpy(), b.double().cpu().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)  # (F,)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))  # (F, F)
    with warnings.catch_warnings():  # a singular product (features that never fire) is expected; finiteness is checked below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(root).all():
        offset = np.eye(len(s_a)) * 1e-6
        root = linalg.sqrtm((s_a + offset) @ (s_b + offset))
    if np.iscomplexobj(root):
        root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root))


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x (N, F) to its k-th nearest other row, (N,), by scikit-learn."""
    from sklearn.neighbors import NearestNeighbors

    points = x.double().cpu().numpy()
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)  # the first neighbour is the point itself
    return torch.from_numpy(distances[:, k])


def _coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 1000) -> float:
    """Fraction of points inside at least one ball (centre, radius)."""
    inside = [(torch.cdist(points[i : i + chunk], centres) <= radii).any(1) for i in range(0, len(points), chunk)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = PR_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``fake`` (M, F) against ``real`` (N, F).

    Precision: the fraction of samples inside the real manifold (the union of balls around each real
    point reaching its k-th neighbour); recall: the fraction of real points inside the samples'.
    """
    if min(len(real), len(fake)) <= k:
        raise DataError(f"precision/recall needs more than k = {k} points in each set, got {len(real)} and {len(fake)}")
    real, fake = real.double(), fake.double()
    return _coverage(fake, real, _knn_radii(real, k)), _coverage(real, fake, _knn_radii(fake, k))


@dataclass(frozen=True)
class SampleQuality:
    """Keys of ``vaekit evaluate --fid``."""

    frechet_distance: float
    precision: float
    recall: float
    feature_accuracy: float  # of the classifier on the held-out split


def sample_quality(extractor: FeatureExtractor, real: torch.Tensor, fake: torch.Tensor) -> SampleQuality:
    """Compare samples (M, C, H, W) with real examples (N, C, H, W), all in [0, 1]."""
    f_real, f_fake = extractor(real), extractor(fake)  # (N, F), (M, F)
    precision, recall = precision_recall(f_real, f_fake)
    return SampleQuality(frechet_distance(f_real, f_fake), precision, recall, extractor.accuracy)
