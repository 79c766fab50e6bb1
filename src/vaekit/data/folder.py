"""``folder:PATH``: every image under a directory (recursive), centre-cropped and resized.

Labels come from the first-level sub-folder names (none when images sit at the top). Optional
per-image attributes come from a CSV with a file-name column followed by 0/1 or -1/1 columns, as
CelebA ships them. A file with an image extension that cannot be decoded is reported and skipped;
an image with no row in the attribute file is an error, so nothing is silently mislabelled. The
decoded images are kept in the user cache and memory-mapped when they would not fit in RAM
(``vaekit.data.diskcache``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from vaekit.data.diskcache import decoded_folder
from vaekit.data.images import EXTENSIONS, load_image
from vaekit.data.raw import RawSplits, Split
from vaekit.errors import DataError

SPLIT_SEED = 0  # images are shuffled once with this seed, then split: the same files give the same splits


def list_images(root: Path) -> tuple[list[Path], list[Path]]:
    """Image files under ``root`` sorted by path (deterministic), and the other files found."""
    if not root.is_dir():
        raise DataError(f"{root}: no such directory; give folder:PATH with a directory of images")
    everything = sorted(p for p in root.rglob("*") if p.is_file())
    files = [p for p in everything if p.suffix.lower() in EXTENSIONS]
    if not files:
        raise DataError(f"{root}: no images found (looked for {', '.join(sorted(EXTENSIONS))}, recursively)")
    return files, [p for p in everything if p.suffix.lower() not in EXTENSIONS]


def read_attributes(path: Path) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """Attribute names and a row of 0/1 values per file name (CelebA's -1 becomes 0)."""
    if not path.is_file():
        raise DataError(f"{path}: no such attribute file; give --attributes FILE.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise DataError(f"{path}: expected a header (file name, attribute names...) and one row per image")
    names = tuple(n.strip() for n in rows[0][1:])
    table = {}
    for line, row in enumerate(rows[1:], start=2):
        try:
            values = np.array([int(v) for v in row[1:]], dtype=np.int64)
        except ValueError:
            raise DataError(f"{path}, line {line}: attribute values must be 0/1 or -1/1 integers, got {row[1:6]}") from None
        if len(values) != len(names) or not np.isin(values, (-1, 0, 1)).all():
            raise DataError(f"{path}, line {line}: expected {len(names)} values in -1/0/1, got {row[1:6]}...")
        table[row[0].strip()] = (values > 0).astype(np.uint8)
    return names, table


def _labels(root: Path, files: list[Path]) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    parts = [f.relative_to(root).parts for f in files]
    if all(len(p) == 1 for p in parts):
        return None, None
    classes = tuple(sorted({p[0] for p in parts if len(p) > 1}))
    index = {c: i for i, c in enumerate(classes)}
    if any(len(p) == 1 for p in parts):
        loose = [str(f) for f, p in zip(files, parts, strict=True) if len(p) == 1][:3]
        raise DataError(
            f"{root}: some images are in sub-folders (labels) and some are not ({', '.join(loose)}...); move them into a class folder"
        )
    return np.array([index[p[0]] for p in parts], dtype=np.int64), classes


def _attributes(root: Path, files: list[Path], path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    names, table = read_attributes(path)
    rows, missing = [], []
    for f in files:
        row = table.get(f.relative_to(root).as_posix(), table.get(f.name))
        if row is None:
            missing.append(f.name)
        rows.append(row)
    if missing:
        raise DataError(f"{path}: {len(missing)} image(s) have no row, e.g. {', '.join(missing[:3])}; add their rows or remove the images")
    return np.stack(rows), names


def load_folder(root: Path, image_size: int, channels: int, attributes: Path | None = None) -> RawSplits:
    """All images under ``root`` at ``image_size`` x ``image_size`` with ``channels`` channels."""
    files, others = list_images(root)
    notes: list[str] = []
    decoded = decoded_folder(
        root,
        files,
        (channels, image_size, image_size),
        lambda f: load_image(f, image_size, channels),
        lambda n: np.random.default_rng(SPLIT_SEED).permutation(n),
        notes,
    )
    if len(decoded.files) < 3:
        raise DataError(f"{root}: only {len(decoded.files)} readable image(s); need at least 3 for train, validation and test")
    kept = [root / f for f in decoded.files]  # in split order
    y, classes = _labels(root, kept)
    attrs, names = _attributes(root, kept, attributes) if attributes is not None else (None, None)
    data = Split(decoded.images, y, attrs)
    cut = len(kept) - max(1, len(kept) // 10)
    notes += [
        f"skipped {len(names)} {what}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
        for what, names in (("unreadable file(s)", decoded.skipped), ("non-image file(s)", [str(p.relative_to(root)) for p in others]))
        if names
    ]
    return RawSplits(
        train=data.take(slice(0, cut)),
        test=data.take(slice(cut, None)),
        scale=255.0,
        location=f"{root} ({decoded.where})",
        classes=classes,
        attribute_names=names,
        notes=tuple(notes),
    )
