"""How much memory there is, and refusing work that would not fit before it starts.

A size from a flag or from a run's config.json (a hidden layer of 10^6 units, 10^9 samples, an
image of 10^5 x 10^5 pixels) is checked against the memory available before anything is allocated,
so the answer is one clear line instead of an out-of-memory kill or an attempt to allocate terabytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from vaekit.errors import ConfigError

CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")  # cgroup v2: a container's own limit
CGROUP_USAGE = Path("/sys/fs/cgroup/memory.current")


def human(nbytes: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    try:
        limit = CGROUP_LIMIT.read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int(CGROUP_USAGE.read_text().strip())
    except (OSError, ValueError):
        return None


def available_bytes(device: str | torch.device = "cpu") -> int | None:
    """Memory free for new tensors on ``device`` (None when the system does not say)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    found = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if not found:
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def require(nbytes: float, what: str, fix: str, device: str | torch.device = "cpu") -> None:
    """A ConfigError when ``what`` would need more than the available memory of ``device``.

    Args:
        nbytes: the estimate, in bytes.
        what: what needs it, e.g. "a batch of 128 examples of this model".
        fix: what to change, e.g. "use a smaller --batch-size".
    """
    free = available_bytes(device)
    if free is not None and nbytes > free:
        raise ConfigError(f"{what} would need about {human(nbytes)} of memory, but {human(free)} is available; {fix}")
