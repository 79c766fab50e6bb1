"""``faces``: generated, anti-aliased cartoon faces whose generative factors are known.

No face data set with expression labels can be downloaded here, so vaekit draws one, as ``shapes``
does for dSprites. Each face is a stack of shapes described by signed distance fields (the head, the
hair behind and over it, eyebrows, eyes, nose, mouth, glasses) evaluated for a whole chunk of
faces at once in torch, with one pixel of smooth edge for anti-aliasing.

Thirteen factors are drawn independently, uniform over their range (glasses on or off):

    smile        -1 frown .. +1 smile (mouth curvature)     mouth_open   0 closed .. 1 open
    eyes_open    0 shut .. 1 wide                            brow_tilt   -1 sad .. +1 angry
    roll         -1 .. +1 (head roll, -20 .. +20 degrees)    x, y        -1 .. +1 (head position)
    face_width   0 narrow .. 1 wide                          skin_tone    0 light .. 1 dark
    hair_length  0 short .. 1 long                           hair_colour  0 black .. 1 blond
    glasses      0 / 1                                       background   0 dark .. 1 light

Factors travel as ``factors``, each cut into ``FACTOR_BINS`` equal-width bins over its range (glasses
into 2), because the disentanglement metrics take discrete factors, as disentanglement_lib does for
continuous ones; the continuous values are ``FaceFactors.values``. The binary attributes below are
thresholds of the factors and work exactly like a CelebA attribute file (``--attribute smiling``,
``--model cvae --condition attributes``).

``faces`` is 20,000 faces from seed 0; ``faces:N`` or ``faces:N:SEED`` draws N from SEED. The same
seed gives the same pixels; the last tenth is the test split. Large renders (the seed's 256x256 faces
take minutes) are kept in the user cache (``$VAEKIT_CACHE/faces/``) and read back on later loads,
after a few of their faces are drawn again and compared, so a cache from another renderer or a
damaged file is redrawn, never trusted.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from vaekit.data.raw import RawSplits, Split
from vaekit.data.sources import cache_dir
from vaekit.errors import ConfigError
from vaekit.runtime import memory

FACTOR_NAMES = (
    "smile",
    "mouth_open",
    "eyes_open",
    "brow_tilt",
    "roll",
    "x",
    "y",
    "face_width",
    "skin_tone",
    "hair_length",
    "hair_colour",
    "glasses",
    "background",
)
SIGNED = {"smile", "brow_tilt", "roll", "x", "y"}  # in [-1, 1]; the others in [0, 1]
FACTOR_BINS = 20
ATTRIBUTES = {  # name -> (factor, threshold): the attribute is 1 where the factor is above it
    "smiling": ("smile", 0.0),
    "mouth_open": ("mouth_open", 0.5),
    "eyes_open": ("eyes_open", 0.5),
    "angry_brows": ("brow_tilt", 0.0),
    "glasses": ("glasses", 0.5),
    "long_hair": ("hair_length", 0.5),
    "blond": ("hair_colour", 0.5),
    "dark_skin": ("skin_tone", 0.5),
    "wide_face": ("face_width", 0.5),
}
DEFAULT_N = 20_000
TEST_FRACTION = 0.1
HEAD_SCALE = 1.22  # the head frame's unit, in image units (the image spans [-1, 1])
CHUNK_PIXELS = 500 * 64 * 64  # pixels rendered at once: float32 planes of 8 MB
CACHE_BYTES = 64 * 2**20  # renders at least this large (a few seconds of drawing) are kept on disk
CACHE_CHECKS = 4  # faces drawn again to check a cached render
RENDER_VERSION = 1  # bump when the drawing changes (the check would catch it anyway, at a rebuild's cost)
MIN_SIZE, MAX_SIZE = 32, 256


def sample_factors(n: int, seed: int) -> np.ndarray:
    """n independent factor vectors, (n, 13) float64, in the ranges of the module docstring."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n, len(FACTOR_NAMES)))
    for i, name in enumerate(FACTOR_NAMES):
        if name in SIGNED:
            values[:, i] = 2 * values[:, i] - 1
    glasses = FACTOR_NAMES.index("glasses")
    values[:, glasses] = (values[:, glasses] > 0.5).astype(np.float64)
    return values


def bin_factors(values: np.ndarray) -> np.ndarray:
    """The factor values as integer bins, (N, 13): ``FACTOR_BINS`` equal-width bins over each range."""
    bins = np.empty(values.shape, dtype=np.int64)
    for i, name in enumerate(FACTOR_NAMES):
        if name == "glasses":
            bins[:, i] = values[:, i].astype(np.int64)
            continue
        unit = (values[:, i] + 1) / 2 if name in SIGNED else values[:, i]
        bins[:, i] = np.clip((unit * FACTOR_BINS).astype(np.int64), 0, FACTOR_BINS - 1)
    return bins


def attributes(values: np.ndarray) -> np.ndarray:
    """The binary attributes of factor values, (N, A) uint8 in ``ATTRIBUTES`` order."""
    return np.stack([values[:, FACTOR_NAMES.index(f)] > t for f, t in ATTRIBUTES.values()], axis=1).astype(np.uint8)


# ----------------------------------------------------------------------------------- drawing


def _ellipse(x: torch.Tensor, y: torch.Tensor, cx, cy, rx, ry) -> torch.Tensor:
    """An approximate signed distance to an ellipse (negative inside), in image units."""
    r = torch.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return (r - 1) * torch.minimum(torch.as_tensor(rx), torch.as_tensor(ry))


def _segment(x: torch.Tensor, y: torch.Tensor, x0, y0, x1, y1, half_width) -> torch.Tensor:
    """Signed distance to a capsule: the segment (x0, y0)-(x1, y1) thickened by ``half_width``."""
    dx, dy = x1 - x0, y1 - y0
    t = (((x - x0) * dx + (y - y0) * dy) / (dx**2 + dy**2 + 1e-12)).clamp(0, 1)
    return torch.sqrt((x - x0 - t * dx) ** 2 + (y - y0 - t * dy) ** 2) - half_width


def _arc(x: torch.Tensor, y: torch.Tensor, cx, cy, half_width, bend, thickness) -> torch.Tensor:
    """Signed distance to the curve y = cy + bend (1 - u^2), u = (x - cx) / half_width in [-1, 1]."""
    u = (x - cx) / half_width
    curve = cy + bend * (1 - u**2)
    slope = -2 * bend * u / half_width
    across = (y - curve).abs() / torch.sqrt(1 + slope**2) - thickness
    return torch.maximum(across, (x - cx).abs() - half_width)


def _coverage(sdf: torch.Tensor, pixel: float) -> torch.Tensor:
    """Anti-aliased coverage in [0, 1]: one pixel of smooth edge around the zero level."""
    return (0.5 - sdf / pixel).clamp(0, 1)


def _paint(image: torch.Tensor, cover: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """Alpha-blend ``colour`` (B, 3) over ``image`` (B, 3, H, W) where ``cover`` (B, H, W)."""
    a = cover[:, None]  # (B, 1, H, W)
    return image * (1 - a) + colour[:, :, None, None] * a


def _mix(a: tuple[float, ...], b: tuple[float, ...], t: torch.Tensor) -> torch.Tensor:
    """Colours between a and b, (B, 3), for t (B,) in [0, 1]."""
    a_, b_ = torch.tensor(a), torch.tensor(b)
    return a_ + (b_ - a_) * t[:, None]


def _colours(f: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    skin = _mix((0.98, 0.84, 0.72), (0.40, 0.25, 0.17), f["skin_tone"])
    dark_hair, brown, blond = (0.10, 0.07, 0.05), (0.45, 0.28, 0.14), (0.93, 0.80, 0.45)
    h = f["hair_colour"]
    hair = torch.where((h < 0.5)[:, None], _mix(dark_hair, brown, 2 * h), _mix(brown, blond, 2 * h - 1))
    return {
        "background": _mix((0.16, 0.20, 0.30), (0.82, 0.86, 0.92), f["background"]),
        "skin": skin,
        "shade": skin * 0.82,
        "hair": hair,
        "brow": hair * 0.6,
        "white": torch.full_like(skin, 0.97),
        "iris": torch.tensor((0.20, 0.14, 0.10)).expand_as(skin),
        "line": torch.tensor((0.12, 0.08, 0.07)).expand_as(skin),
        "lips": skin * torch.tensor((0.75, 0.45, 0.45)) + torch.tensor((0.18, 0.0, 0.0)),
        "mouth": torch.tensor((0.30, 0.06, 0.08)).expand_as(skin),
        "frame": torch.tensor((0.08, 0.08, 0.10)).expand_as(skin),
    }


def _head(x: torch.Tensor, y: torch.Tensor, f: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Where the head is: its radii, and the pixel coordinates in the rolled, scaled head frame."""
    cx, cy = 0.14 * f["x"], 0.10 * f["y"] - 0.04  # (B,)
    rx, ry = 0.40 + 0.12 * f["face_width"], torch.full_like(cx, 0.52)
    angle = math.radians(20) * f["roll"]
    c, s = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    dx, dy = x - cx[:, None, None], y - cy[:, None, None]  # (B, H, W)
    u, v = (c * dx + s * dy) / HEAD_SCALE, (-s * dx + c * dy) / HEAD_SCALE
    return {"u": u, "v": v, "rx": rx[:, None, None], "ry": ry[:, None, None]}


def _draw_head(image: torch.Tensor, h: dict[str, torch.Tensor], f: dict[str, torch.Tensor], col: dict[str, torch.Tensor], px: float):
    u, v, rx, ry = h["u"], h["v"], h["rx"], h["ry"]
    zero = torch.zeros_like(rx)
    length = f["hair_length"][:, None, None]
    bottom = -0.1 + 0.95 * length  # how far down the hair falls (head frame, y down)
    back = torch.minimum(
        _ellipse(u, v, zero, -0.06, rx * 1.14, ry * 1.04), torch.maximum(torch.maximum((u.abs() - rx * 1.16), v - bottom * ry), -v)
    )
    image = _paint(image, _coverage(back, px), col["hair"])
    neck = _segment(u, v, zero, ry * 0.6, zero, ry * 2.0, rx * 0.38)
    image = _paint(image, _coverage(neck, px), col["shade"])
    image = _paint(image, _coverage(_ellipse(u, v, zero, zero, rx, ry), px), col["skin"])
    for side in (-1.0, 1.0):  # ears
        ear = _ellipse(u, v, side * rx * 0.98, ry * 0.02, rx * 0.14, ry * 0.2)
        image = _paint(image, _coverage(ear, px) * _coverage(-_ellipse(u, v, zero, zero, rx, ry), px), col["shade"])
    fringe = torch.maximum(_ellipse(u, v, zero, -ry * 0.32, rx * 1.03, ry * 0.74), v + ry * (0.42 - 0.04 * torch.sin(u * 18)))
    return _paint(image, _coverage(fringe, px), col["hair"])


def _draw_features(image: torch.Tensor, h: dict[str, torch.Tensor], f: dict[str, torch.Tensor], col: dict[str, torch.Tensor], px: float):
    u, v, rx = h["u"], h["v"], h["rx"]
    b = {k: t[:, None, None] for k, t in f.items()}  # factors broadcast over (H, W)
    eye_y, eye_x = -0.08, rx * 0.42
    open_ = 0.012 + 0.075 * b["eyes_open"]
    for side in (-1.0, 1.0):
        ex = side * eye_x
        almond = _ellipse(u, v, ex, eye_y, rx * 0.24, open_)
        image = _paint(image, _coverage(almond, px), col["white"])
        iris = torch.maximum(_ellipse(u, v, ex, eye_y, 0.045, 0.045), almond)
        image = _paint(image, _coverage(iris, px), col["iris"])
        image = _paint(image, _coverage(almond.abs() - 0.009, px), col["line"])
        tilt = 0.13 * b["brow_tilt"]  # the inner end goes down for an angry brow, up for a sad one
        brow = _segment(u, v, ex + side * rx * 0.22, eye_y - 0.17 - tilt * 0.3, ex - side * rx * 0.2, eye_y - 0.17 + tilt, 0.03)
        image = _paint(image, _coverage(brow, px), col["brow"])
        glasses = _coverage((torch.sqrt((u - ex) ** 2 + (v - eye_y) ** 2) - 0.16).abs() - 0.014, px) * b["glasses"]
        image = _paint(image, glasses, col["frame"])
    bridge = _segment(u, v, -eye_x + 0.16, eye_y, eye_x - 0.16, eye_y, 0.012)
    image = _paint(image, _coverage(bridge, px) * b["glasses"], col["frame"])
    nose = _segment(u, v, 0.0, 0.02, 0.015, 0.14, 0.022)
    image = _paint(image, 0.7 * _coverage(nose, px), col["shade"])
    return _draw_mouth(image, u, v, rx, b, col, px)


def _draw_mouth(image, u, v, rx, b, col, px):
    width, y0 = rx * 0.42, 0.30
    bend = 0.07 * b["smile"]  # the centre lower than the corners: a smile
    gap = 0.075 * b["mouth_open"] * (1 - ((u / width).clamp(-1, 1)) ** 2)  # how far the lips part
    upper, lower = y0 + bend * (1 - ((u / width).clamp(-1, 1)) ** 2) - gap, y0 + bend * (1 - ((u / width).clamp(-1, 1)) ** 2) + gap
    inside = torch.maximum(torch.maximum(upper - v, v - lower), u.abs() - width)
    image = _paint(image, _coverage(inside, px), col["mouth"])
    for lip in (-1.0, 1.0):
        line = _arc(u, v - lip * gap, 0.0, y0, width, bend, 0.016)
        image = _paint(image, _coverage(line, px), col["lips"])
    return image


def render(values: np.ndarray, size: int = 64, channels: int = 3) -> np.ndarray:
    """Faces of factor values (N, 13) as uint8 images (N, channels, size, size)."""
    out = np.empty((len(values), channels, size, size), dtype=np.uint8)
    grid = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
    y, x = torch.meshgrid(grid, grid, indexing="ij")
    px = 2.0 / size
    step = max(1, CHUNK_PIXELS // (size * size))  # faces at once
    for start in range(0, len(values), step):
        chunk = torch.from_numpy(values[start : start + step]).float()  # (B, 13)
        f = {name: chunk[:, i] for i, name in enumerate(FACTOR_NAMES)}
        col = _colours(f)
        image = col["background"][:, :, None, None].expand(-1, -1, size, size).clone()  # (B, 3, H, W)
        h = _head(x, y, f)
        head_px = px / HEAD_SCALE  # one pixel in head units
        image = _draw_features(_draw_head(image, h, f, col, head_px), h, f, col, head_px)
        if channels == 1:
            image = (image * torch.tensor((0.299, 0.587, 0.114))[None, :, None, None]).sum(1, keepdim=True)
        out[start : start + step] = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return out


def _cache_path(n: int, seed: int, size: int, channels: int) -> Path:
    return cache_dir() / "faces" / f"faces-v{RENDER_VERSION}-n{n}-seed{seed}-{channels}x{size}x{size}.npy"


def _cached(path: Path, values: np.ndarray, size: int, channels: int, notes: list[str]) -> np.ndarray | None:
    """The cached render at ``path`` if it holds exactly the faces of ``values``, else None."""
    if not path.is_file():
        return None
    try:
        images = np.load(path, mmap_mode="r")
        ok = images.shape == (len(values), channels, size, size) and images.dtype == np.uint8
        check = np.unique(np.linspace(0, len(values) - 1, CACHE_CHECKS).round().astype(int))
        ok = ok and np.array_equal(np.asarray(images[check]), render(values[check], size, channels))
        if ok:
            return np.array(images)  # in memory: the file may be replaced by another process later
    except (OSError, ValueError, EOFError) as error:
        notes.append(f"the cached faces {path} could not be read ({error}); drew them again")
        return None
    notes.append(f"the cached faces {path} did not match the renderer; drew them again")
    return None


def _store(path: Path, images: np.ndarray, notes: list[str]) -> None:
    """Write ``images`` to ``path`` atomically; a cache that cannot be written is only a note."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, images)
            f.flush()
            os.fsync(f.fileno())  # a crash must not leave a renamed file whose pages were never written
        os.replace(tmp, path)  # concurrent writers: the last complete file wins
    except OSError as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        notes.append(f"could not keep the drawn faces in {path.parent} ({error}); they will be drawn again next time")


def render_cached(values: np.ndarray, n: int, seed: int, size: int, channels: int, notes: list[str]) -> np.ndarray:
    """``render(values, size, channels)``, read from the user cache when it is large enough to keep."""
    if n * channels * size * size < CACHE_BYTES:
        return render(values, size, channels)
    path = _cache_path(n, seed, size, channels)
    images = _cached(path, values, size, channels, notes)
    if images is None:
        images = render(values, size, channels)
        _store(path, images, notes)
    return images


def parse_spec(name: str) -> tuple[int, int]:
    """``faces`` -> (20000, 0); ``faces:N`` -> (N, 0); ``faces:N:SEED`` -> (N, SEED)."""
    parts = name.split(":")[1:]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"'{name}': write faces, faces:N or faces:N:SEED with whole numbers") from None
    if len(values) > 2 or (values and values[0] < 10):
        raise ConfigError(f"'{name}': write faces, faces:N or faces:N:SEED with N >= 10")
    return (values[0] if values else DEFAULT_N), (values[1] if len(values) == 2 else 0)


def load_faces(name: str = "faces", size: int = 64, channels: int = 3) -> RawSplits:
    """The faces of ``name`` at ``size`` x ``size``, with their binned factors and attributes."""
    n, seed = parse_spec(name)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ConfigError(f"faces are drawn at --image-size {MIN_SIZE} to {MAX_SIZE}, got {size}")
    memory.require(n * channels * size * size * 1.2, f"{n:,} faces of {channels}x{size}x{size}", "draw fewer (faces:N) or smaller ones")
    values = sample_factors(n, seed)
    notes: list[str] = []
    images = render_cached(values, n, seed, size, channels, notes)
    split = Split(images, attributes=attributes(values), factors=bin_factors(values))
    cut = n - max(1, int(TEST_FRACTION * n))
    return RawSplits(
        train=split.take(slice(0, cut)),
        test=split.take(slice(cut, None)),
        scale=255.0,
        location=f"generated ({n:,} faces from seed {seed}, {size}x{size})",
        attribute_names=tuple(ATTRIBUTES),
        factor_names=FACTOR_NAMES,
        factor_sizes=tuple(2 if name == "glasses" else FACTOR_BINS for name in FACTOR_NAMES),
        notes=tuple(notes),
    )
