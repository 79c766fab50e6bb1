"""Reading one image file, safely: a file that is not an image, is truncated, or claims more pixels
than vaekit decodes (a decompression bomb, or a photo far larger than any model input) is a
``DataError`` that names it, raised before its pixels are decoded."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from vaekit.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


class ImageError(DataError):
    """An image file that cannot be used; ``reason`` says why in a few words (for a folder's notes)."""

    def __init__(self, path: Path, problem: str, reason: str, hint: str):
        super().__init__(f"{path}: {problem} ({reason}); {hint}")
        self.reason = reason


def _max_pixels() -> int:
    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)  # PIL's limit (a user may set it); its default otherwise


def open_image(path: Path | BinaryIO, mode: str, name: str | None = None) -> Image.Image:
    """The decoded image of ``path`` (or of an open binary file, called ``name`` in messages) in PIL
    ``mode`` ("L" or "RGB"), after its size is checked."""
    source = Path(path) if isinstance(path, str | Path) else path
    path = Path(path) if isinstance(path, str | Path) else Path(name or "the image")
    hint = "give a png, jpg, bmp or webp file"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked here, before decoding
            with Image.open(source) as image:
                w, h = image.size
                if w * h > _max_pixels():
                    raise ImageError(path, "too large to decode", f"{w}x{h} pixels, over the limit of {_max_pixels():,}", "resize it first")
                return image.convert(mode)
    except Image.DecompressionBombError as e:  # PIL refuses twice its limit already when it reads the header
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageError(path, "too large to decode", f"{size}, over the limit of {_max_pixels():,}", "resize it first") from None
    except FileNotFoundError:
        raise ImageError(path, "cannot read as an image", "no such file", hint) from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:  # PIL's decoding errors
        raise ImageError(path, "cannot read as an image", type(e).__name__, hint) from None


def load_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One image as uint8 (C, size, size): centre-cropped to a square, then resized."""
    image = open_image(path, "L" if channels == 1 else "RGB")
    with image:
        w, h = image.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
        array = np.asarray(image, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def image_as_example(path: Path | BinaryIO, shape: tuple[int, ...], name: str | None = None) -> np.ndarray:
    """An image file (or an open binary file, ``name`` in messages) as one example of ``shape``
    (C, H, W), uint8: centre-cropped to the aspect ratio, resized, converted to grey or RGB. For
    ``--a-file`` style inputs and the explorer's uploads."""
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError(f"{name or path}: this model's data are not images (shape {tuple(shape)}); give dataset indices instead")
    c, h, w = shape
    with open_image(path, "L" if c == 1 else "RGB", name) as image:
        iw, ih = image.size
        scale = min(iw / w, ih / h)
        cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
        left, top = (iw - cw) // 2, (ih - ch) // 2
        image = image.crop((left, top, left + cw, top + ch)).resize((w, h), Image.Resampling.BICUBIC)
        array = np.array(image, dtype=np.uint8)  # a writable copy
    return array[None] if c == 1 else array.transpose(2, 0, 1)
