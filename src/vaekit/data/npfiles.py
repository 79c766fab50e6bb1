"""Reading ``.npy`` / ``.npz`` files without trusting them.

Every array's header is read and checked before its data: the shape it claims must fit in the bytes
the file (or zip member) holds, the memory it needs must be available, and its dtype must be plain
numbers (no pickled objects, strings or complex values). Only then does NumPy read it. An array
whose header lies would otherwise make NumPy allocate what the header claims, terabytes if it
says so, before noticing the file is short.

8-bit image arrays larger than memory comfortably holds (``diskcache.memory_mapped``) are not read
into RAM but memory-mapped read-only: an ``.npy`` file in place; an ``.npz`` member in place
too when it is stored uncompressed (``np.savez``), else decompressed once into
``$VAEKIT_CACHE/arrays/KEY/`` (KEY hashes the file's path, size and modification time and the
member's name; a damaged copy is made again) and mapped from there.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vaekit.data.diskcache import memory_mapped
from vaekit.data.sources import cache_dir
from vaekit.errors import DataError
from vaekit.runtime import memory

MAX_HEADER = 10_000  # bytes; NumPy's own default limit for a .npy header


def _header(f: BinaryIO, where: str, fortran: list[bool] | None = None) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy header claims (the stream is left at the start of the data);
    whether it is in Fortran order is appended to ``fortran`` when given."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read(f, max_header_size=MAX_HEADER)
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise DataError(f"{where}: not a NumPy array file ({e})") from None
    if fortran is not None:
        fortran.append(bool(fortran_order))
    return tuple(int(s) for s in shape), np.dtype(dtype)


def _mappable(shape: tuple[int, ...], dtype: np.dtype) -> bool:
    """Whether an array of this kind is memory-mapped rather than read: 8-bit images over the in-RAM share of memory."""
    return dtype == np.uint8 and len(shape) in (3, 4) and memory_mapped(math.prod(shape))


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
    (read-only and shared: batches come from the page cache, the file is never written, and a file larger
    than RAM plus swap maps, which a copy-on-write mapping's commit charge would not)."""
    with open(path, "rb") as f:
        shape, dtype = _header(f, str(path))
        mapped = _mappable(shape, dtype)
        _check_claim(str(path), shape, dtype, path.stat().st_size - f.tell(), in_ram=not mapped)
    return np.load(path, mmap_mode="r" if mapped else None, allow_pickle=False)


def _stored_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where an uncompressed zip member's bytes start in the file (after its local header)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"member {info.filename} has no local header")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_length + extra_length


def _extracted(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...]) -> Path:
    """A compressed member decompressed once into the cache as an .npy file (reused while the .npz is unchanged)."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{info.filename}".encode()).hexdigest()[:32]
    final = cache_dir() / "arrays" / key / info.filename
    if final.is_file():
        try:
            if np.load(final, mmap_mode="r").shape == shape:
                return final
        except (OSError, ValueError, EOFError):
            pass  # damaged: made again below
    final.parent.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(final.parent).free < info.file_size:
        raise OSError(f"{final.parent} has less than the {info.file_size:,} bytes free that the array needs")
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".extracting-")
    try:
        with os.fdopen(fd, "wb") as out, archive.open(info) as member:
            shutil.copyfileobj(member, out, 16 << 20)
            out.flush()
            os.fsync(out.fileno())  # the check above reads only the header: the data must be on disk before the rename
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return final


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name, where, fortran = info.filename[:-4], f"{path}, array '{info.filename[:-4]}'", []
            with archive.open(info) as member:
                head = io.BytesIO(member.read(MAX_HEADER + 16))
                shape, dtype = _header(head, where, fortran)
                header_bytes = head.tell()
            mapped = _mappable(shape, dtype) and not fortran[0]
            _check_claim(where, shape, dtype, info.file_size - header_bytes, in_ram=not mapped)
            if mapped and info.compress_type == zipfile.ZIP_STORED:  # np.savez: map the member where it lies
                offset = _stored_offset(path, info) + header_bytes
                arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
                continue
            if mapped:  # np.savez_compressed: decompress once into the cache, map that
                try:
                    arrays[name] = np.load(_extracted(path, archive, info, shape), mmap_mode="r", allow_pickle=False)
                    continue
                except OSError:
                    _check_claim(where, shape, dtype, info.file_size - header_bytes)  # no room on disk: RAM, if it fits
            with archive.open(info) as member:
                arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
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


def read_array(path: Path, key: str, hint: str, arrays: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """One named array of an .npz file (checked as ``read_arrays`` does) with finite values;
    ``arrays``: the file already read by ``read_arrays``, for a caller that needs several."""
    arrays = read_arrays(path) if arrays is None else arrays
    if key not in arrays:
        raise DataError(f"{path}: no array '{key}' (found {sorted(arrays) or 'none'}); {hint}")
    a = arrays[key]
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise DataError(f"{path}: array '{key}' contains NaN or infinite values; {hint}")
    return a
