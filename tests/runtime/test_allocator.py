import sys

import pytest

from vaekit.runtime.allocator import tune_allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_tune_allocator_sets_glibc_thresholds_unless_the_environment_does(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert tune_allocator() is True  # glibc (this project's CI and the Debian images)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "0")
    assert tune_allocator() is False  # the user's own setting wins
