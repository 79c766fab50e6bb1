"""``shapes``: procedural 64x64 binary sprites with known generative factors, in the manner of dSprites.

dSprites (Matthey et al. 2017) cannot be downloaded here, so vaekit draws its own: a square, an
ellipse or a heart at one of several scales, rotations and x/y positions, white on black. The
five factors are the ground truth that the disentanglement metrics score a model against.

- ``shapes``: the full product of a reduced grid, 3 shapes x 6 scales x 10 rotations x 8 x 8
  positions = 11,520 images (47 MB as uint8).
- ``shapes:N`` or ``shapes:N:SEED``: N factor combinations drawn uniformly from dSprites' own grid
  (3 x 6 x 40 x 32 x 32 = 737,280), without replacement, from SEED (default 0).

Everything is a pure function of the grid and the seed, so every machine draws the same images.
Examples are shuffled (seed 0) before the split: the last 10 % are the test split.
"""

from __future__ import annotations

import math

import numpy as np

from vaekit.data.raw import RawSplits, Split
from vaekit.errors import ConfigError

SIZE = 64
FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
SHAPES = ("square", "ellipse", "heart")
GRID = (3, 6, 10, 8, 8)  # the full product of ``shapes``
DSPRITES_GRID = (3, 6, 40, 32, 32)  # ``shapes:N`` samples from dSprites' resolution
TEST_FRACTION = 0.1
SHUFFLE_SEED = 0


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether sprite-frame points (u, v), about [-1, 1]^2, are inside ``SHAPES[shape]``."""
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8
    if shape == 1:
        return u**2 + (v / 0.5) ** 2 <= 1.0
    x, y = u * 1.25, -v * 1.25 + 0.15  # the heart curve (x^2 + y^2 - 1)^3 <= x^2 y^3, tip down
    return (x**2 + y**2 - 1) ** 3 <= x**2 * y**3


def render(factors: np.ndarray, grid: tuple[int, ...] = GRID) -> np.ndarray:
    """Draw sprites from factor indices.

    Args:
        factors: (N, 5) integer indices into ``grid`` (shape, scale, rotation, x, y).
        grid: the number of values of each factor. Scales run over [0.5, 1], rotations over
            [0, 2 pi), positions over the frame so that every sprite stays inside it.

    Returns:
        (N, 1, 64, 64) uint8 images in {0, 1}.
    """
    scale = 0.5 + 0.5 * factors[:, 1] / max(grid[1] - 1, 1)  # (N,)
    angle = 2 * math.pi * factors[:, 2] / grid[2]  # (N,)
    half = 12.0  # sprite half-size in pixels at scale 1
    margin = half * math.sqrt(2)  # a rotated sprite's reach
    cx = margin + (SIZE - 1 - 2 * margin) * factors[:, 3] / max(grid[3] - 1, 1)  # (N,)
    cy = margin + (SIZE - 1 - 2 * margin) * factors[:, 4] / max(grid[4] - 1, 1)  # (N,)
    py, px = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)  # (H, W)
    out = np.zeros((len(factors), 1, SIZE, SIZE), dtype=np.uint8)
    for i, (s, k) in enumerate(zip(factors[:, 0], scale, strict=True)):
        dx, dy = (px - cx[i]) / (half * k), (py - cy[i]) / (half * k)  # (H, W)
        c, sn = math.cos(angle[i]), math.sin(angle[i])
        out[i, 0] = _inside(int(s), c * dx + sn * dy, -sn * dx + c * dy)
    return out


def factor_product(grid: tuple[int, ...] = GRID) -> np.ndarray:
    """Every combination of factor indices, (prod(grid), 5)."""
    return np.stack(np.meshgrid(*[np.arange(n) for n in grid], indexing="ij"), -1).reshape(-1, len(grid))


def factor_sample(n: int, seed: int, grid: tuple[int, ...] = DSPRITES_GRID) -> np.ndarray:
    """n distinct combinations drawn uniformly from ``grid``, (n, 5)."""
    total = math.prod(grid)
    if not 1 <= n <= total:
        raise ConfigError(f"shapes:N needs 1 <= N <= {total:,} (the number of factor combinations), got {n}")
    flat = np.random.default_rng(seed).choice(total, size=n, replace=False)
    return np.stack(np.unravel_index(flat, grid), -1)


def parse_spec(name: str) -> tuple[int | None, int]:
    """``shapes`` -> (None, 0); ``shapes:N`` -> (N, 0); ``shapes:N:SEED`` -> (N, SEED)."""
    parts = name.split(":")[1:]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"'{name}': write shapes, shapes:N or shapes:N:SEED with whole numbers") from None
    if len(values) > 2:
        raise ConfigError(f"'{name}': write shapes, shapes:N or shapes:N:SEED")
    return (values[0] if values else None), (values[1] if len(values) == 2 else 0)


def load_shapes(name: str = "shapes") -> RawSplits:
    """The sprites of ``name`` with their factors (labels are the shape), split 90 / 10 after a shuffle."""
    n, seed = parse_spec(name)
    grid = GRID if n is None else DSPRITES_GRID
    factors = factor_product(grid) if n is None else factor_sample(n, seed, grid)  # (N, 5)
    factors = factors[np.random.default_rng(SHUFFLE_SEED).permutation(len(factors))]
    x = render(factors, grid)  # (N, 1, 64, 64)
    cut = len(x) - max(1, int(TEST_FRACTION * len(x)))
    split = Split(x, factors[:, 0].astype(np.int64), factors=factors.astype(np.int64))
    return RawSplits(
        train=split.take(slice(0, cut)),
        test=split.take(slice(cut, None)),
        scale=1.0,
        location=f"generated ({'x'.join(map(str, grid))} grid" + ("" if n is None else f", {n} drawn with seed {seed}") + ")",
        classes=SHAPES,
        factor_names=FACTOR_NAMES,
        factor_sizes=grid,
    )
