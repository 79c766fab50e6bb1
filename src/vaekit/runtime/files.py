"""Files that are always whole: atomic writes, whole-line appends, tolerant line readers, safetensors.

A reader (or a run killed half-way) sees a file as it was before a write or after it, never torn.
An appended log is written one complete line at a time and fsynced, and its reader skips a cut
last line (what a killed process can leave) with a warning. A failed write (full disk, no
permission, a path under a file) is one ``RunDirError`` that names the file and what to do.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from vaekit.errors import RunDirError, VaekitWarning


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_error(path: Path, error: OSError) -> RunDirError:
    """The user-facing error for a failed write to ``path``."""
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        return RunDirError(f"{path}: cannot write, the disk is full ({reason}); free some space or choose another --out")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return RunDirError(f"{path}: cannot write there ({reason}); choose a writable --out")
    return RunDirError(f"{path}: cannot write ({reason}); choose another --out")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``.

    Raises:
        RunDirError: the file cannot be written (full disk, no permission, missing directory); the
            old file, if any, is left as it was and no temporary file is left behind.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise write_error(path, e) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the mode a plain open() would
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # make the rename itself durable
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, e) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def append_line(path: Path, obj: dict[str, Any]) -> None:
    """Append ``obj`` as one JSON line: a single write of the whole line, then fsync.

    A line left cut by an earlier killed process is closed with a newline first, so the new line
    starts on a line of its own (and the reader skips only the cut one).
    """
    line = (json.dumps(obj) + "\n").encode()
    try:
        with open(path, "ab+") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = b"\n" + line
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise write_error(Path(path), e) from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a line log, skipping (with a warning) lines that are not whole objects.

    A missing file is an empty log. The cut last line a killed process can leave is the usual
    case; a damaged line elsewhere is skipped the same way and named in the warning.
    """
    path = Path(path)
    if not path.is_file():
        return []
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as e:
        raise RunDirError(f"{path}: cannot read ({e.strerror or e})") from None
    rows, bad = [], []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad.append(number)
    if bad:
        where = "its last line" if bad == [len(lines) - (lines[-1] == "")] else f"line(s) {', '.join(map(str, bad[:5]))}"
        warnings.warn(
            f"{path}: skipped {where}, which is not a whole JSON record (a process stopped while writing it?)", VaekitWarning, stacklevel=2
        )
    return rows


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save tensors as safetensors, atomically."""
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write_bytes(path, safetensors.torch.save(flat, metadata=metadata))


def load_tensors(path: Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a safetensors file."""
    try:
        with safetensors.safe_open(str(path), framework="pt", device=str(device)) as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except (OSError, ValueError, RuntimeError, safetensors.SafetensorError) as e:
        raise RunDirError(f"{path}: cannot read ({e}); the file is damaged, train again or restore it") from None


def writable_dir(path: Path, what: str = "--out") -> Path:
    """Check, before any work, that ``path`` is or can become a writable directory.

    The nearest existing ancestor must be a directory we may write in (a path under a regular file,
    or in a read-only place, is refused). Nothing is created.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise RunDirError(f"{what} {path}: {existing} is a file, not a directory; choose another {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunDirError(f"{what} {path}: {existing} is not writable; choose another {what}")
    return path


def make_dir(path: Path, what: str = "--out") -> bool:
    """Create ``path`` (and its parents); True when this call created the directory itself."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
        return True
    except FileExistsError:
        if not path.is_dir():
            raise RunDirError(f"{what} {path} exists and is not a directory; choose another {what}") from None
        return False
    except OSError as e:
        raise write_error(path, e) from None
