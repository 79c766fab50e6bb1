"""The one dataset type every loader returns: all examples in memory as one tensor."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class InMemoryDataset:
    """A split held as one tensor; a batch is an index into it (no per-example ``__getitem__``).

    Attributes:
        x: (N, C, H, W), usually uint8 to save memory; ``x / scale`` lies in [0, 1].
        labels: (N,) int64 class labels, or None when the source has none.
        scale: divisor that maps ``x`` to [0, 1] (255 for 8-bit images, 1 for binary data).
        dynamic_binarize: resample each batch as Bernoulli(x / scale) (the standard protocol for
            likelihoods on dynamically binarized MNIST).
    """

    x: torch.Tensor
    labels: torch.Tensor | None
    scale: float
    dynamic_binarize: bool = False

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example, e.g. (1, 28, 28)."""
        return tuple(self.x.shape[1:])

    def batch(self, index: torch.Tensor | slice, generator: torch.Generator | None = None) -> torch.Tensor:
        """Examples ``index`` as float32 in [0, 1], (B, C, H, W); binarized if dynamic."""
        x = self.x[index].to(torch.float32) / self.scale  # (B, C, H, W)
        if self.dynamic_binarize:
            x = torch.bernoulli(x, generator=generator)
        return x

    def head(self, n: int) -> InMemoryDataset:
        """The first ``n`` examples."""
        labels = None if self.labels is None else self.labels[:n]
        return replace(self, x=self.x[:n], labels=labels)

    def to(self, device: torch.device | str) -> InMemoryDataset:
        labels = None if self.labels is None else self.labels.to(device)
        return replace(self, x=self.x.to(device), labels=labels)

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

    @property
    def shape(self) -> tuple[int, ...]:
        return self.train.shape

    def split(self, name: str) -> InMemoryDataset:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]

    def to(self, device: torch.device | str) -> DatasetSplits:
        return replace(self, train=self.train.to(device), valid=self.valid.to(device), test=self.test.to(device))
