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
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaekit.data.diskcache import decoded_folder
from vaekit.data.images import EXTENSIONS, load_image
from vaekit.data.raw import RawSplits, Split
from vaekit.errors import DataError

SPLIT_SEED = 0  # images are shuffled once with this seed, then split: the same files give the same splits


@dataclass(frozen=True)
class Listing:
    """The files under a folder, as paths relative to it (POSIX, sorted by their parts: deterministic).

    Attributes:
        files: the image files.
        stamps: (size in bytes, modification time in ns) of each image file, what the cache key hashes.
        others: the files that are not images.
    """

    files: list[str]
    stamps: list[tuple[int, int]]
    others: list[str]


def _walk(directory: str, prefix: str, listing: Listing, seen: set[tuple[int, int]]) -> None:
    """Add the files under ``directory`` to ``listing`` in the order of sorting their paths by parts (each
    folder's entries by name, a sub-folder's files in its place); symlinked folders are followed once."""
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        rel = prefix + entry.name
        try:
            if entry.is_dir():
                st = entry.stat()
                if (st.st_dev, st.st_ino) not in seen:  # a link back up the tree is not walked twice
                    seen.add((st.st_dev, st.st_ino))
                    _walk(entry.path, rel + "/", listing, seen)
            elif entry.is_file():
                if os.path.splitext(entry.name)[1].lower() in EXTENSIONS:
                    st = entry.stat()
                    listing.files.append(rel)
                    listing.stamps.append((st.st_size, st.st_mtime_ns))
                else:
                    listing.others.append(rel)
        except OSError:  # a dangling link, or a file removed while listing: not a file here
            continue


def list_images(root: Path) -> Listing:
    """Image files under ``root`` and the other files found, in one ``os.scandir`` pass."""
    if not root.is_dir():
        raise DataError(f"{root}: no such directory; give folder:PATH with a directory of images")
    listing = Listing([], [], [])
    top = os.stat(root)
    _walk(str(root), "", listing, {(top.st_dev, top.st_ino)})
    if not listing.files:
        raise DataError(f"{root}: no images found (looked for {', '.join(sorted(EXTENSIONS))}, recursively)")
    return listing


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


def _labels(root: Path, files: list[str]) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    parts = [f.split("/") for f in files]
    if all(len(p) == 1 for p in parts):
        return None, None
    classes = tuple(sorted({p[0] for p in parts if len(p) > 1}))
    index = {c: i for i, c in enumerate(classes)}
    if any(len(p) == 1 for p in parts):
        loose = [str(root / f) for f, p in zip(files, parts, strict=True) if len(p) == 1][:3]
        raise DataError(
            f"{root}: some images are in sub-folders (labels) and some are not ({', '.join(loose)}...); move them into a class folder"
        )
    return np.array([index[p[0]] for p in parts], dtype=np.int64), classes


def _attributes(files: list[str], path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    names, table = read_attributes(path)
    rows, missing = [], []
    for f in files:
        name = f.rsplit("/", 1)[-1]
        row = table.get(f, table.get(name))
        if row is None:
            missing.append(name)
        rows.append(row)
    if missing:
        raise DataError(f"{path}: {len(missing)} image(s) have no row, e.g. {', '.join(missing[:3])}; add their rows or remove the images")
    return np.stack(rows), names


def load_folder(root: Path, image_size: int, channels: int, attributes: Path | None = None) -> RawSplits:
    """All images under ``root`` at ``image_size`` x ``image_size`` with ``channels`` channels."""
    listing = list_images(root)
    notes: list[str] = []
    decoded = decoded_folder(
        root,
        listing.files,
        listing.stamps,
        (channels, image_size, image_size),
        lambda f: load_image(f, image_size, channels),
        lambda n: np.random.default_rng(SPLIT_SEED).permutation(n),
        notes,
    )
    if len(decoded.files) < 3:
        raise DataError(f"{root}: only {len(decoded.files)} readable image(s); need at least 3 for train, validation and test")
    kept = decoded.files  # in split order
    y, classes = _labels(root, kept)
    attrs, names = _attributes(kept, attributes) if attributes is not None else (None, None)
    data = Split(decoded.images, y, attrs)
    cut = len(kept) - max(1, len(kept) // 10)
    notes += [
        f"skipped {len(names)} {what}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
        for what, names in (("unreadable file(s)", decoded.skipped), ("non-image file(s)", listing.others))
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
