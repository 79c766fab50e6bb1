"""The one dataset type every loader returns: all examples in memory as one tensor."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch

from vaekit.errors import DataError


@dataclass(frozen=True)
class InMemoryDataset:
    """A split held as one tensor; a batch is an index into it (no per-example ``__getitem__``).

    Attributes:
        x: (N, C, H, W), usually uint8 to save memory; ``x / scale`` lies in [0, 1].
        labels: (N,) int64 class labels, or None when the source has none.
        scale: divisor that maps ``x`` to [0, 1] (255 for 8-bit images, 1 for binary data).
        dynamic_binarize: resample each batch as Bernoulli(x / scale) (the standard protocol for
            likelihoods on dynamically binarized MNIST).
        attributes: (N, A) binary attributes in {0, 1} (CelebA-style), or None.
        factors: (N, F) int64 ground-truth factor indices (``shapes``), or None.
    """

    x: torch.Tensor
    labels: torch.Tensor | None
    scale: float
    dynamic_binarize: bool = False
    attributes: torch.Tensor | None = None
    factors: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example, e.g. (1, 28, 28)."""
        return tuple(self.x.shape[1:])

    def batch(self, index: torch.Tensor | slice, generator: torch.Generator | None = None) -> torch.Tensor:
        """Examples ``index`` as float32 in [0, 1], (B, C, H, W); binarized if dynamic."""
        # index_select, not x[index]: advanced indexing of a 4-d uint8 tensor costs 20x more (1.2 ms
        # for 512 MNIST rows; bench/README.md, "Training throughput").
        listed = isinstance(index, torch.Tensor) and index.dim() == 1 and not index.dtype.is_floating_point and index.dtype != torch.bool
        rows = self.x.index_select(0, index) if listed else self.x[index]
        x = rows.to(torch.float32) / self.scale  # (B, C, H, W); never in place: float data may be a view
        if self.dynamic_binarize:
            x = torch.bernoulli(x, generator=generator)
        return x

    def values(self, index: torch.Tensor | slice) -> torch.Tensor:
        """Examples ``index`` as float32 in [0, 1], never binarized: what a likelihood's support check reads."""
        return self.x[index].to(torch.float32) / self.scale

    def value_chunks(self, max_bytes: int = 64 * 2**20) -> Iterator[torch.Tensor]:
        """Every example as float32 ``values``, in slices of at most ``max_bytes`` (at least one example):
        a pass over the whole split whose memory does not grow with the examples' size."""
        per_example = 4 * max(1, math.prod(self.shape))
        step = max(1, max_bytes // per_example)
        for start in range(0, len(self), step):
            yield self.values(slice(start, start + step))

    def condition(self, index: torch.Tensor | slice, kind: str | None, dim: int) -> torch.Tensor | None:
        """What a conditional model is given for examples ``index``: one-hot labels or attributes, (B, Y).

        Returns None when ``kind`` is None (unconditional models).
        """
        if kind is None:
            return None
        source = self._condition_source(kind)
        if kind == "label":
            return torch.nn.functional.one_hot(source[index], dim).to(torch.float32)  # (B, Y)
        return source[index].to(torch.float32)  # (B, A)

    def condition_dim(self, kind: str) -> int:
        """Size of the condition vector: number of classes (largest label + 1) or attributes."""
        source = self._condition_source(kind)
        return int(source.max()) + 1 if kind == "label" else source.shape[1]

    def _condition_source(self, kind: str) -> torch.Tensor:
        source = self.labels if kind == "label" else self.attributes
        if source is None:
            what = "class labels" if kind == "label" else "attributes (use --data folder:PATH --attributes FILE.csv)"
            raise DataError(f"a model conditioned on {kind}s needs data with {what}; this dataset has none")
        return source

    def _map(self, fn) -> InMemoryDataset:
        """Apply ``fn`` to x and to labels, attributes and factors where present."""

        def opt(t):
            return None if t is None else fn(t)

        return replace(self, x=fn(self.x), labels=opt(self.labels), attributes=opt(self.attributes), factors=opt(self.factors))

    def head(self, n: int) -> InMemoryDataset:
        """The first ``n`` examples."""
        return self._map(lambda t: t[:n])

    def to(self, device: torch.device | str) -> InMemoryDataset:
        return self._map(lambda t: t.to(device))

    def binarized_once(self, seed: int) -> InMemoryDataset:
        """A fixed stochastic binarization (for evaluation splits under the dynamic protocol)."""
        generator = torch.Generator(device=self.x.device).manual_seed(seed)
        x = torch.bernoulli(self.x.to(torch.float32) / self.scale, generator=generator)
        return replace(self, x=x.to(torch.uint8), scale=1.0, dynamic_binarize=False)


@dataclass(frozen=True)
class DatasetSplits:
    """A named dataset with fixed train / validation / test splits."""

    name: str
    train: InMemoryDataset
    valid: InMemoryDataset
    test: InMemoryDataset
    source: str = ""
    classes: tuple[str, ...] | None = None
    attribute_names: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()
    factor_names: tuple[str, ...] | None = None
    factor_sizes: tuple[int, ...] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.train.shape

    def split(self, name: str) -> InMemoryDataset:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]

    def to(self, device: torch.device | str) -> DatasetSplits:
        return replace(self, train=self.train.to(device), valid=self.valid.to(device), test=self.test.to(device))
