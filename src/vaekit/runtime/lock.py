"""One writer per directory: a lock file that holds its owner's pid, host and start time.

Taking the lock creates the file exclusively (``O_CREAT | O_EXCL``), so of two processes started
at once exactly one gets it. A lock left by a process that has died (same host, pid gone) is taken
over; one held by a live process, or by another host (whose pids cannot be checked), is refused
with a message that says who holds it and what to do.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from vaekit.errors import RunDirError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class DirectoryLock:
    """``with DirectoryLock(run_dir): ...`` makes this process the only writer of ``run_dir``.

    Args:
        directory: the directory to own (it must exist).
        name: the lock file's name inside it.
    """

    def __init__(self, directory: Path, name: str = ".lock"):
        self.path = Path(directory) / name
        self.owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": round(time.time())}
        self.held = False

    def _holder(self) -> dict | None:
        """The recorded owner, or None when the file is gone, empty or garbled (a write that never finished)."""
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None

    def _stale(self, holder: dict | None) -> bool:
        if holder is None:
            return True
        if holder.get("host") != self.owner["host"]:
            return False  # another machine's pid means nothing here
        return holder["pid"] == self.owner["pid"] or not _alive(holder["pid"])

    def acquire(self) -> DirectoryLock:
        payload = json.dumps(self.owner).encode()
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            self._take_over(payload)
        except OSError as e:
            raise RunDirError(
                f"{self.path.parent}: cannot create the lock file {self.path.name} ({e.strerror}); choose a writable --out"
            ) from None
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
        self.held = True
        return self

    def _take_over(self, payload: bytes) -> None:
        holder = self._holder()
        if not self._stale(holder):
            since = time.strftime("%Y-%m-%d %H:%M", time.localtime(holder.get("since", 0)))
            raise RunDirError(
                f"{self.path.parent} is in use by process {holder['pid']} on {holder.get('host')} (since {since}); "
                f"wait for it to finish, or if that process is gone, delete {self.path}"
            )
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, self.path)
        if self._holder() != self.owner:  # another process took it over at the same moment
            raise RunDirError(f"{self.path.parent} was just taken by another process; run one vaekit command per run directory at a time")

    def release(self) -> None:
        if self.held and self._holder() == self.owner:
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.release()
