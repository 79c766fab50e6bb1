"""Image folders decoded once into the user cache, and read back at memory speed.

``folder:PATH`` decodes every image on its first load, in parallel over all cores, into one uint8
array ``images.npy`` of shape (N, C, S, S) in split order (the seeded shuffle already applied, so each
split is a contiguous slice), beside a ``meta.json`` naming the decoded files. Later loads open it in
well under a second. The cache lives in ``$VAEKIT_CACHE/folders/KEY/``, where KEY hashes the file
list, each file's size and modification time, the image size, the channels and this format's
version: a changed, added or removed file gives a new key, so a stale cache is never read.

A set that fits comfortably in memory (``IN_MEMORY_FRACTION`` of what is free) is read into RAM;
a larger one is memory-mapped read-only, so batches are gathered from the page cache and the
process holds only what it touches. ``VAEKIT_MEMORY_MAP=always`` or ``never`` overrides the
choice. A damaged cache (a truncated array, a meta file that does not match it) is rebuilt with a
note, never trusted. Builders write into a private temporary directory and rename it into place, so
two processes building the same cache at once end with one valid copy.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaekit.data.sources import cache_dir
from vaekit.errors import DataError
from vaekit.runtime import memory
from vaekit.runtime.files import atomic_write_bytes

VERSION = 1
IN_MEMORY_FRACTION = 0.25  # decoded sets up to this share of the free memory are read into RAM
CHUNK = 256  # images decoded per task


@dataclass(frozen=True)
class DecodedFolder:
    """A folder's decoded images in split order.

    Attributes:
        images: (N, C, S, S) uint8, in RAM or a read-only memory map of the cache file.
        files: the decoded files' paths relative to the folder, in the same order.
        skipped: 'path (reason)' of each file that could not be decoded.
        where: how the images are held, for the run's first line.
    """

    images: np.ndarray
    files: list[str]
    skipped: list[str]
    where: str


def folder_key(files: list[str], stamps: list[tuple[int, int]], size: int, channels: int) -> str:
    """A hash of what the decoded images depend on: the files (relative names, sizes, mtimes) and the options."""
    digest = hashlib.sha256(json.dumps({"version": VERSION, "size": size, "channels": channels}).encode())
    digest.update("".join(f"{f}\0{n}\0{t}\n" for f, (n, t) in zip(files, stamps, strict=True)).encode())
    return digest.hexdigest()[:32]


def _open(directory: Path) -> tuple[np.ndarray, dict]:
    """The cached array (memory-mapped) and its meta; ValueError/OSError when anything is off.

    The map is read-only and shared: a copy-on-write map ("c") is charged against RAM plus swap and
    fails with ENOMEM for a set larger than both (200k images at 256x256 are 39 GB).
    """
    meta = json.loads((directory / "meta.json").read_text())
    images = np.load(directory / "images.npy", mmap_mode="r")
    if images.dtype != np.uint8 or images.shape != tuple(meta["shape"]) or len(meta["files"]) != images.shape[0]:
        raise ValueError(f"the array is {images.dtype} {images.shape}, its meta says uint8 {tuple(meta['shape'])}")
    return images, meta


def _release(out: np.ndarray, start: int, stop: int) -> None:
    """Unmap rows ``start:stop`` of a file-backed array from this process once written (MADV_DONTNEED).

    Their bytes stay in the page cache and go to the file as usual (a shared file mapping loses
    nothing); without this every written page stays mapped, and the builder of a 39 GB cache
    shows 20 GiB resident. Only whole pages inside the rows are released.
    """
    mm = getattr(out, "_mmap", None)
    if mm is None or not hasattr(mmap, "MADV_DONTNEED"):
        return
    row = out[0].nbytes
    base = out.offset % mmap.ALLOCATIONGRANULARITY  # where the array's bytes start inside numpy's mmap
    first = -(-(base + start * row) // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (base + stop * row) // mmap.PAGESIZE * mmap.PAGESIZE
    if last > first:
        mm.madvise(mmap.MADV_DONTNEED, first, last - first)


def _decode_all(root: Path, files: list[str], decode: Callable[[Path], np.ndarray], out: np.ndarray, echo) -> list[str | None]:
    """Decode ``root / files[i]`` into ``out[i]`` on every core; the reason each failed file was skipped (else None)."""
    from vaekit.data.images import ImageError

    reasons: list[str | None] = [None] * len(files)

    def work(start: int) -> int:
        for i in range(start, min(start + CHUNK, len(files))):
            try:
                out[i] = decode(root / files[i])
            except ImageError as e:  # unreadable, or too large to decode (a decompression bomb)
                reasons[i] = f"{files[i]} ({e.reason})"
        _release(out, start, min(start + CHUNK, len(files)))
        return min(start + CHUNK, len(files)) - start

    done, last = 0, time.monotonic()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL releases the GIL while it decodes
        for n in pool.map(work, range(0, len(files), CHUNK)):
            done += n
            if echo is not None and (time.monotonic() - last > 2 or done == len(files)):
                echo(f"decoding {root}: {done:,}/{len(files):,} images")
                last = time.monotonic()
    return reasons


def _decode_in_split_order(
    root: Path, files: list[str], decode, order_of: Callable[[int], np.ndarray], allocate: Callable[[str, int], np.ndarray], echo
) -> tuple[np.ndarray, list[str], list[str]]:
    """The decodable files' images in split order, their relative paths, and the skipped files' reasons.

    The split order of n decodable files is ``order_of(n)``. Files are decoded straight into the
    order they would have if all of them decode (the common case, one pass); only when some fail is
    the result compacted into a second array in the order of the ones that did.
    ``allocate(name, n)`` gives a writable (n, *shape) uint8 array (in RAM, or a memory-mapped file).
    """
    guess = order_of(len(files))  # slot j holds files[guess[j]]
    images = allocate("images", len(files))
    reasons = _decode_all(root, [files[i] for i in guess], decode, images, echo)
    failed = [j for j, r in enumerate(reasons) if r is not None]
    if failed:
        slot_of = np.empty(len(files), dtype=np.int64)
        slot_of[guess] = np.arange(len(files))
        kept = np.array(sorted(set(range(len(files))) - {int(guess[j]) for j in failed}), dtype=np.int64)
        order = kept[order_of(len(kept))]  # the split order of the files that decoded
        staged, images = images, allocate("compacted", len(order))
        for start in range(0, len(order), 4096):
            images[start : start + 4096] = staged[slot_of[order[start : start + 4096]]]
        guess = order
    names = [files[i] for i in guess]
    return images, names, [r for r in reasons if r is not None]


def _build(root: Path, files: list[str], decode, shape: tuple[int, int, int], order_of, final: Path, echo) -> None:
    """Decode ``files`` into a new cache directory and move it to ``final`` (unless another process did first)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=final.parent, prefix=final.name + ".building-"))

    def allocate(name: str, n: int) -> np.ndarray:
        return np.lib.format.open_memmap(work / f"{name}.npy", mode="w+", dtype=np.uint8, shape=(n, *shape))

    try:
        images, names, skipped = _decode_in_split_order(root, files, decode, order_of, allocate, echo)
        images.flush()
        del images
        if (work / "compacted.npy").exists():
            os.replace(work / "compacted.npy", work / "images.npy")
        meta = json.dumps({"version": VERSION, "shape": [len(names), *shape], "files": names, "skipped": skipped})
        atomic_write_bytes(work / "meta.json", meta.encode())  # fsynced: the cache counts as built once meta.json is there
        try:
            os.rename(work, final)
        except OSError:  # another process finished the same cache first: keep theirs
            if not (final / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def decoded_folder(
    root: Path,
    files: list[str],
    stamps: list[tuple[int, int]],
    shape: tuple[int, int, int],
    decode: Callable[[Path], np.ndarray],
    order_of: Callable[[int], np.ndarray],
    notes: list[str],
    echo: Callable[[str], None] | None = None,
) -> DecodedFolder:
    """The decoded images of ``files`` (paths relative to ``root``; each ``decode(root / file)`` -> uint8
    ``shape``), from the cache or built into it.

    Args:
        stamps: (size, mtime_ns) of each file, for the cache key.
        order_of: the split order of the ``n`` decodable files (a permutation of ``range(n)``).
        notes: where a rebuilt or unwritable cache is reported.
        echo: where build progress goes (stderr by default).
    """
    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    final = cache_dir() / "folders" / folder_key(files, stamps, shape[-1], shape[0])
    unreadable = (OSError, ValueError, KeyError, TypeError)
    images = meta = None
    if final.is_dir():
        try:
            images, meta = _open(final)
        except unreadable as e:
            notes.append(f"the decoded cache {final} was damaged ({e}); decoded the folder again")
            shutil.rmtree(final, ignore_errors=True)
    if images is None:
        try:
            _build(root, files, decode, shape, order_of, final, echo)
        except OSError as e:
            notes.append(f"could not keep the decoded images in {final.parent} ({e}); they are decoded again on every load")
            return _in_memory_only(root, files, shape, decode, order_of, echo)
        try:
            images, meta = _open(final)
        except unreadable as e:
            raise DataError(
                f"{final}: the decoded cache cannot be read right after it was built ({e}); check the disk, or point VAEKIT_CACHE elsewhere"
            ) from None
    files_kept, skipped = meta["files"], meta["skipped"]
    if memory_mapped(images.nbytes):
        return DecodedFolder(images, files_kept, skipped, f"memory-mapped from {final}")
    return DecodedFolder(np.array(images), files_kept, skipped, f"in memory, decoded once into {final}")


def memory_mapped(nbytes: int) -> bool:
    """Whether data of ``nbytes`` (a decoded folder, a uint8 .npy file) is memory-mapped rather than read into RAM."""
    choice = os.environ.get("VAEKIT_MEMORY_MAP", "auto")
    if choice not in ("auto", "always", "never"):
        raise DataError(f"VAEKIT_MEMORY_MAP={choice!r}: use auto, always or never")
    if choice != "auto":
        return choice == "always"
    free = memory.available_bytes()
    return free is not None and nbytes > IN_MEMORY_FRACTION * free


def _in_memory_only(root, files, shape, decode, order_of, echo) -> DecodedFolder:
    """Decode into RAM without a cache (the cache directory is not writable)."""
    memory.require(
        len(files) * int(np.prod(shape)),
        f"{len(files):,} images of {'x'.join(map(str, shape))}",
        "make $VAEKIT_CACHE writable, or use a smaller --image-size or fewer images",
    )
    images, names, skipped = _decode_in_split_order(
        root, files, decode, order_of, lambda name, n: np.empty((n, *shape), dtype=np.uint8), echo
    )
    return DecodedFolder(images, names, skipped, "in memory")
