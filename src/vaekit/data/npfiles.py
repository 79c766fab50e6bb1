"""Reading ``.npy`` / ``.npz`` files without trusting them.

Every array's header is read and checked before its data: the shape it claims must fit in the bytes
the file (or zip member) holds, the memory it needs must be available, and its dtype must be plain
numbers (no pickled objects, strings or complex values). Only then does NumPy read it. An array
whose header lies would otherwise make NumPy allocate what the header claims, terabytes if it
says so, before noticing the file is short.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vaekit.data.diskcache import memory_mapped
from vaekit.errors import DataError
from vaekit.runtime import memory

MAX_HEADER = 10_000  # bytes; NumPy's own default limit for a .npy header


def _header(f: BinaryIO, where: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy header claims (the stream is left at the start of the data)."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f, max_header_size=MAX_HEADER)
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise DataError(f"{where}: not a NumPy array file ({e})") from None
    return tuple(int(s) for s in shape), np.dtype(dtype)


def _check_claim(where: str, shape: tuple[int, ...], dtype: np.dtype, available: int, in_ram: bool = True) -> None:
    """The header's claim against the bytes that follow it, the memory there is, and plain numbers."""
    if dtype.hasobject:
        raise DataError(f"{where}: holds Python objects (dtype {dtype}); vaekit reads plain numbers only, never pickled data")
    if dtype.kind not in "biuf":
        raise DataError(
            f"{where}: has dtype {dtype}; expected real numbers (integers, floats or booleans), not strings, complex numbers or records"
        )
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > available:
        raise DataError(
            f"{where}: the header claims shape {shape} ({claimed:,} bytes of {dtype}) but the file holds only "
            f"{available:,} bytes of data; the file is truncated or damaged"
        )
    if in_ram:
        memory.require(claimed, f"{where} (shape {shape}, {dtype})", "use a smaller array")


def _read_npy(path: Path) -> np.ndarray:
    """The array of an .npy file; 8-bit images larger than memory comfortably holds are memory-mapped
    (copy-on-write: batches come from the page cache, the file is never written)."""
    with open(path, "rb") as f:
        shape, dtype = _header(f, str(path))
        mapped = dtype == np.uint8 and len(shape) in (3, 4) and memory_mapped(math.prod(shape))
        _check_claim(str(path), shape, dtype, path.stat().st_size - f.tell(), in_ram=not mapped)
    return np.load(path, mmap_mode="c" if mapped else None, allow_pickle=False)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            where = f"{path}, array '{info.filename[:-4]}'"
            with archive.open(info) as member:
                head = io.BytesIO(member.read(MAX_HEADER + 16))
                shape, dtype = _header(head, where)
                _check_claim(where, shape, dtype, info.file_size - head.tell())
            with archive.open(info) as member:
                arrays[info.filename[:-4]] = np.lib.format.read_array(member, allow_pickle=False)
    return arrays


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file by name, or of an .npy file as ``{"x": array}``, checked first.

    Raises:
        DataError: a missing, truncated, damaged or lying file, or arrays of anything but numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of an .npy or .npz file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic.startswith(b"PK"):
            return _read_npz(path)
        return {"x": _read_npy(path)}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as e:
        raise DataError(
            f"{path}: cannot read ({type(e).__name__}: {e}); it must be a NumPy .npy/.npz file without pickled objects"
        ) from None


def read_array(path: Path, key: str, hint: str) -> np.ndarray:
    """One named array of an .npz file (checked as ``read_arrays`` does) with finite values."""
    arrays = read_arrays(path)
    if key not in arrays:
        raise DataError(f"{path}: no array '{key}' (found {sorted(arrays) or 'none'}); {hint}")
    a = arrays[key]
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise DataError(f"{path}: array '{key}' contains NaN or infinite values; {hint}")
    return a
