"""Where dataset files are found, and how missing ones are downloaded and verified.

Search order for a dataset called NAME: ``--data-dir``, ``$VAEKIT_DATA/NAME/`` (also with ``_``
for ``-``), the user cache (``$VAEKIT_CACHE`` or ``$XDG_CACHE_HOME/vaekit`` or
``~/.cache/vaekit``), then any system directories the dataset names (Debian's packages).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from vaekit.errors import DataError


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name and the SHA-256 of its *decompressed* bytes."""

    name: str
    sha256: str


def cache_dir() -> Path:
    """The user cache directory where downloads go."""
    if os.environ.get("VAEKIT_CACHE"):
        return Path(os.environ["VAEKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vaekit"


def candidate_dirs(name: str, data_dir: Path | None, system_dirs: tuple[Path, ...] = ()) -> list[Path]:
    """Directories to search for dataset ``name``, in order."""
    dirs: list[Path] = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / name, Path(data_dir) / name.replace("-", "_")]
    if os.environ.get("VAEKIT_DATA"):
        root = Path(os.environ["VAEKIT_DATA"])
        dirs += [root / name, root / name.replace("-", "_")]
    dirs += [cache_dir() / name, *system_dirs]
    return list(dict.fromkeys(dirs))


def find_files(name: str, filenames: list[str], data_dir: Path | None, system_dirs: tuple[Path, ...] = ()) -> list[Path] | None:
    """The first candidate directory holding every file (``f`` or ``f`` without ``.gz``)."""
    for d in candidate_dirs(name, data_dir, system_dirs):
        found = []
        for f in filenames:
            options = [d / f, d / f.removesuffix(".gz")]
            hit = next((p for p in options if p.is_file()), None)
            if hit is None:
                break
            found.append(hit)
        else:
            return found
    return None


def _fetch(url: str, dest: Path, timeout: float) -> None:
    """Stream ``url`` to ``dest`` with a progress bar (tqdm, on stderr)."""
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {url.rsplit('/', 1)[-1]}", leave=False) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))
        out.flush()
        os.fsync(out.fileno())


def _decompressed_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if gz else open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download(file: RemoteFile, mirrors: list[str], dest_dir: Path, timeout: float = 30.0) -> Path:
    """Download ``file`` from the first mirror that serves it with the right checksum.

    The file is written to a temporary name in ``dest_dir`` and renamed only once its decompressed
    bytes match ``file.sha256``, so an interrupted or corrupt download never leaves a file behind.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + file.name
        fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{file.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _fetch(url, tmp, timeout)
            digest = _decompressed_sha256(tmp)
            if digest != file.sha256:
                failures.append(f"{url}: checksum mismatch (sha256 {digest[:12]}..., expected {file.sha256[:12]}...)")
                continue
            final = dest_dir / file.name
            os.replace(tmp, final)
            return final
        except (urllib.error.URLError, OSError, EOFError, zlib.error, ValueError) as e:
            failures.append(f"{url}: {getattr(e, 'reason', e)}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DataError(f"could not download {file.name} ({'; '.join(failures)}); put the file in {dest_dir} by hand or pass --data-dir DIR")
