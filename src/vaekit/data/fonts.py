"""``fonts``: letters and digits rendered from the TrueType fonts that ship with matplotlib.

The "font vectors" setting of Distill (Carter & Nielsen 2017) on glyphs no one here drew: the 62
characters A-Z, a-z, 0-9 in 21 fonts (DejaVu Sans, Sans Mono and Serif and STIX General, each
regular, bold, oblique or italic, and bold oblique or bold italic; Computer Modern roman, bold,
italic, typewriter and sans), each drawn ``COPIES`` times with a small random size and position
jitter, white on black, anti-aliased by FreeType.

Label = the character (its index in ``CHARS``); attributes ``bold``, ``italic`` (oblique or italic),
``serif`` and ``monospace`` come from the font. Every font is in every split: the characters in
``TEST_CHARS`` are held out as the test split (all fonts, all copies), and of the other characters
copy 0 is the validation split and the rest the training split. The same matplotlib gives the same
pixels.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vaekit.data.raw import RawSplits, Split
from vaekit.errors import DataError
from vaekit.runtime import memory

CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
TEST_CHARS = "GQRgkw38"  # held out: the test split asks for characters never seen in training
ATTRIBUTES = ("bold", "italic", "serif", "monospace")
FONTS = {  # file -> (bold, italic, serif, monospace)
    "DejaVuSans.ttf": (0, 0, 0, 0),
    "DejaVuSans-Bold.ttf": (1, 0, 0, 0),
    "DejaVuSans-Oblique.ttf": (0, 1, 0, 0),
    "DejaVuSans-BoldOblique.ttf": (1, 1, 0, 0),
    "DejaVuSansMono.ttf": (0, 0, 0, 1),
    "DejaVuSansMono-Bold.ttf": (1, 0, 0, 1),
    "DejaVuSansMono-Oblique.ttf": (0, 1, 0, 1),
    "DejaVuSansMono-BoldOblique.ttf": (1, 1, 0, 1),
    "DejaVuSerif.ttf": (0, 0, 1, 0),
    "DejaVuSerif-Bold.ttf": (1, 0, 1, 0),
    "DejaVuSerif-Italic.ttf": (0, 1, 1, 0),
    "DejaVuSerif-BoldItalic.ttf": (1, 1, 1, 0),
    "STIXGeneral.ttf": (0, 0, 1, 0),
    "STIXGeneralBol.ttf": (1, 0, 1, 0),
    "STIXGeneralItalic.ttf": (0, 1, 1, 0),
    "STIXGeneralBolIta.ttf": (1, 1, 1, 0),
    "cmr10.ttf": (0, 0, 1, 0),
    "cmb10.ttf": (1, 0, 1, 0),
    "cmti10.ttf": (0, 1, 1, 0),
    "cmtt10.ttf": (0, 0, 1, 1),
    "cmss10.ttf": (0, 0, 0, 0),
}
COPIES = 8
SEED = 0
GLYPH = (0.62, 0.80)  # the glyph's em size, as a fraction of the image side
SHIFT = 0.06  # largest offset of its centre, as a fraction of the side
MIN_SIZE, MAX_SIZE = 16, 128


def font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.cache
def _font(path: Path, pixels: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), pixels)
    except OSError as e:
        raise DataError(f"{path}: cannot load the font ({e}); reinstall matplotlib") from None


def render_glyph(path: Path, char: str, size: int, pixels: int, dx: float, dy: float) -> np.ndarray:
    """One character, white on black, centred (then shifted by dx, dy pixels), as uint8 (size, size)."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    font = _font(path, pixels)
    left, top, right, bottom = draw.textbbox((0, 0), char, font=font)
    if right <= left or bottom <= top:
        raise DataError(f"{path.name} has no glyph for {char!r}")
    draw.text(((size - (right + left)) / 2 + dx, (size - (bottom + top)) / 2 + dy), char, fill=255, font=font)
    return np.asarray(image, dtype=np.uint8)


def load_fonts(size: int = 32) -> RawSplits:
    """Every character of every font, ``COPIES`` jittered copies each, at ``size`` x ``size``."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise DataError(f"fonts are drawn at --image-size {MIN_SIZE} to {MAX_SIZE}, got {size}")
    n = len(FONTS) * len(CHARS) * COPIES
    memory.require(n * size * size, f"{n:,} glyphs of {size}x{size}", "use a smaller --image-size")
    rng = np.random.default_rng(SEED)
    root = font_dir()
    images, labels, attributes, copies = [], [], [], []
    for file, attrs in FONTS.items():
        for label, char in enumerate(CHARS):
            for copy in range(COPIES):
                pixels = int(round(size * rng.uniform(*GLYPH)))
                dx, dy = rng.uniform(-SHIFT, SHIFT, size=2) * size
                images.append(render_glyph(root / file, char, size, pixels, dx, dy))
                labels.append(label)
                attributes.append(attrs)
                copies.append(copy)
    x = np.stack(images)[:, None]  # (N, 1, size, size)
    everything = Split(x, np.array(labels, dtype=np.int64), np.array(attributes, dtype=np.uint8))
    held_out = np.isin(np.array(list(CHARS))[everything.y], list(TEST_CHARS))
    first = np.array(copies) == 0
    return RawSplits(
        train=everything.take(~held_out & ~first),
        valid=everything.take(~held_out & first),
        test=everything.take(held_out),
        scale=255.0,
        location=f"rendered from matplotlib's fonts in {root}",
        classes=tuple(CHARS),
        attribute_names=ATTRIBUTES,
    )
