"""IDX files (the MNIST family): a validated parser that never trusts the header to size memory.

Format (LeCun et al.): 2 zero bytes, a dtype code, the number of dimensions, then each dimension as
a big-endian uint32, then the data. Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vaekit.errors import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CHUNK = 1 << 20
_MAX_BYTES = 1 << 34  # 16 GiB: no IDX file a user could load into memory is larger


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _read_exact(f: BinaryIO, n: int, path: Path, what: str) -> bytearray:
    """Read exactly n bytes in bounded chunks; a short read is a truncated file."""
    out = bytearray()
    while len(out) < n:
        chunk = f.read(min(_CHUNK, n - len(out)))
        if not chunk:
            raise DataError(
                f"{path}: truncated IDX file: the header promises {n} bytes of {what} but the file "
                f"holds {len(out)}; delete it so vaekit can fetch it again, or replace it"
            )
        out += chunk
    return out  # writable, so numpy and torch can share it without a copy


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse an IDX file (optionally gzip-compressed) with ``ndim`` dimensions.

    Raises:
        DataError: wrong magic number, dimension count or dtype; truncated or oversized data;
            corrupt gzip stream. The message names the file and what to do.
    """
    try:
        with _open(path) as f:
            head = _read_exact(f, 4, path, "header")
            if head[0:2] != b"\x00\x00" or head[2] not in _DTYPES:
                raise DataError(f"{path}: not an IDX file (bad magic number {head.hex()}); check the file name and source")
            if head[3] != ndim:
                raise DataError(f"{path}: expected an IDX file with {ndim} dimension(s), found {head[3]}")
            dims = tuple(int(d) for d in np.frombuffer(_read_exact(f, 4 * ndim, path, "dimensions"), ">u4"))
            dtype = np.dtype(_DTYPES[head[2]])
            nbytes = math.prod(dims) * dtype.itemsize
            if nbytes > _MAX_BYTES:
                raise DataError(f"{path}: IDX header claims shape {dims} ({nbytes} bytes), which is not plausible; the file is corrupt")
            data = _read_exact(f, nbytes, path, f"data for shape {dims}")
            if f.read(1):
                raise DataError(f"{path}: IDX file has bytes after the {dims} data its header describes; the file is corrupt")
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path}: cannot read ({type(e).__name__}: {e}); the file is corrupt or truncated, delete it and fetch it again"
        ) from None
    return np.frombuffer(data, dtype=dtype).reshape(dims)


def read_idx_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) uint8 and labels (N,) int64 from two IDX files that must agree."""
    x, y = read_idx(images, 3), read_idx(labels, 1)
    if x.dtype != np.uint8 or y.dtype != np.uint8:
        raise DataError(f"{images}: expected uint8 images and labels, found {x.dtype} and {y.dtype}")
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{images} holds {x.shape[0]} images but {labels} holds {y.shape[0]} labels; one of the files is from another set")
    return x, y.astype(np.int64)
