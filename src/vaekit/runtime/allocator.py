"""Ask glibc's malloc to keep and reuse freed large blocks (the `vaekit` command does this at start).

PyTorch's CPU tensors come straight from malloc. By default glibc returns a freed block of more
than a few MiB to the kernel at once (munmap, or trimming the heap top), so the next tensor of
that size faults in fresh zeroed pages: importance-weighted evaluation, which decodes 4096 latents
into 12.8 MB buffers again and again, spent a fifth to a quarter of its time in page faults
(600,000 per 100 test images at K = 5000). Serving blocks of up to 64 MiB from the heap and
keeping up to 256 MiB of free heap removes 90 % of those faults (bench/README.md, "Evaluation
throughput"). The cost: up to 256 MiB of freed memory stays with the process instead of going
back to the system.

The ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables, when set,
win: this then changes nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLDS = (64 << 20, 32 << 20)  # older glibc refuse more than 32 MiB (4 MiB * sizeof(long))
TRIM_THRESHOLD = 256 << 20


def tune_allocator() -> bool:
    """Set glibc's mmap and trim thresholds for tensor-sized blocks; True when they were set.

    Does nothing (False) off Linux, on a C library without ``mallopt`` (musl), or when the user
    set either threshold in the environment.
    """
    if not sys.platform.startswith("linux"):
        return False
    if any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already uses
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mmap_set = any(mallopt(M_MMAP_THRESHOLD, threshold) for threshold in MMAP_THRESHOLDS)
    return mmap_set and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
