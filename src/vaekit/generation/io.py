"""The only module that writes images: grids of (N, C, H, W) tensors in [0, 1] as PNG."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from vaekit.errors import RunDirError, VaekitError
from vaekit.runtime import memory
from vaekit.runtime.files import atomic_write_bytes


def grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, scale: int | None = None) -> np.ndarray:
    """Tile images (N, C, H, W) in [0, 1] into one uint8 array (rows*H', cols*W'[, 3]).

    Args:
        images: (N, C, H, W) with C = 1 or 3.
        nrow: images per row (default: about square).
        pad: pixels of white between images.
        scale: integer nearest-neighbour upscaling (default: enough for 32 px tiles).
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise VaekitError(
            f"image grids need (N, C, H, W) images with 1 or 3 channels, got shape {tuple(images.shape)}; this run's data are not images"
        )
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    scale = scale or max(1, math.ceil(32 / max(h, w)))
    side = (math.ceil(n / nrow) * (h * scale + pad) + pad, nrow * (w * scale + pad) + pad)
    memory.require(5 * c * side[0] * side[1], f"a grid image of {side[1]:,} x {side[0]:,} pixels", "draw fewer images (--n, --steps)")
    x = images.detach().float().clamp(0, 1).cpu()
    x = x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)  # (N, C, sH, sW)
    h, w = h * scale, w * scale
    rows = math.ceil(n / nrow)
    canvas = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)  # (C, H_total, W_total)
    for i in range(n):
        r, col = divmod(i, nrow)
        canvas[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = x[i]
    array = (canvas * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H_total, W_total, C)
    return array[:, :, 0] if c == 1 else array


def check_output(path: str | Path, suffix: str | None, what: str = "images") -> Path:
    """Check, before any work, that ``path`` can be written: its suffix, an existing writable
    directory to hold it, and that it is not itself a directory."""
    path = Path(path)
    if suffix is not None and path.suffix.lower() != suffix:
        raise RunDirError(f"{path}: {what} are written as {suffix}; give a file name ending in {suffix}")
    if path.is_dir():
        raise RunDirError(f"{path} is a directory; give a file name for --out")
    if not path.parent.is_dir():
        problem = "is a file, not a directory" if path.parent.exists() else "no such directory"
        raise RunDirError(f"{path.parent}: {problem}; create the directory first or choose another --out")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise RunDirError(f"{path.parent}: not writable; choose another --out")
    return path


def _write(path: str | Path, data: bytes, suffix: str | None, what: str) -> Path:
    """Check the target and write ``data`` there atomically."""
    path = check_output(path, suffix, what)
    atomic_write_bytes(path, data)
    return path


def save_grid(
    images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int | None = None, row_labels: list[str] | None = None
) -> Path:
    """Write a PNG grid of ``images`` (N, C, H, W) in [0, 1] atomically, with a text label left of
    each row when ``row_labels`` are given; returns the path."""
    return _write(path, png_bytes(images, nrow, scale, row_labels), ".png", "images")


def save_arrays(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write named arrays as an .npz (no pickled objects), atomically; returns the path."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return _write(path, buffer.getvalue(), ".npz", "arrays")


def save_npy(path: str | Path, array: np.ndarray) -> Path:
    """Write one array as .npy (no pickled objects), atomically; returns the path."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return _write(path, buffer.getvalue(), ".npy", "arrays")


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    from matplotlib import pyplot as plt

    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=80)
    plt.close(fig)
    # an adaptive 256-colour palette: plots need no more, and the file is several times smaller
    image = Image.open(io.BytesIO(raw.getvalue())).convert("RGB").quantize(colors=256)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG, atomically; returns the path."""
    return _write(path, figure_png(fig), ".png", "figures")


def png_bytes(images: torch.Tensor, nrow: int | None = None, scale: int | None = None, row_labels: list[str] | None = None) -> bytes:
    """A grid of images (N, C, H, W) as PNG bytes (for files, and pages that embed images)."""
    picture = Image.fromarray(grid(images, nrow=nrow, scale=scale))
    if row_labels:
        picture = _labelled(picture, row_labels)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _labelled(picture: Image.Image, labels: list[str]) -> Image.Image:
    """The grid with a white margin on the left holding one label per row, centred on the row."""
    row = picture.height / len(labels)
    font = ImageFont.load_default(size=max(9, min(16, int(row / 3))))
    draw = ImageDraw.Draw(picture)
    margin = 8 + max(int(draw.textlength(text, font=font)) for text in labels)
    out = Image.new(picture.mode, (picture.width + margin, picture.height), 255 if picture.mode == "L" else (255, 255, 255))
    out.paste(picture, (margin, 0))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(labels):
        draw.text((4, (i + 0.5) * row), text, fill=0 if out.mode == "L" else (0, 0, 0), font=font, anchor="lm")
    return out


def save_text(path: str | Path, text: str) -> Path:
    """Write a text file (a report page), atomically; returns the path."""
    return _write(path, text.encode(), None, "pages")
