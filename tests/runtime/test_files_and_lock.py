"""Files that are always whole, logs that survive a cut line, one writer per directory, checks."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from vaekit.errors import ConfigError, RunDirError, VaekitWarning, lookup
from vaekit.runtime import memory
from vaekit.runtime.checks import at_least, check_fields, in_range
from vaekit.runtime.files import append_line, atomic_write_bytes, make_dir, read_jsonl, writable_dir
from vaekit.runtime.lock import DirectoryLock


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunDirError, match=r"f.bin: cannot write, the disk is full .* free some space or choose another --out"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_appends_are_whole_lines_and_readers_skip_a_cut_one(tmp_path):
    log = tmp_path / "metrics.jsonl"
    append_line(log, {"epoch": 1})
    with open(log, "a") as f:
        f.write('{"epoch": 2, "los')  # what a killed process can leave
    with pytest.warns(VaekitWarning, match=r"metrics.jsonl: skipped its last line, which is not a whole JSON record"):
        assert read_jsonl(log) == [{"epoch": 1}]
    append_line(log, {"epoch": 2})  # starts on a line of its own
    with pytest.warns(VaekitWarning, match=r"skipped line\(s\) 2"):
        assert read_jsonl(log) == [{"epoch": 1}, {"epoch": 2}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_output_directories_are_checked_before_anything_is_written(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="file is a file, not a directory"):
        writable_dir(tmp_path / "file" / "run")
    assert writable_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b" and not (tmp_path / "a").exists()
    assert make_dir(tmp_path / "a" / "b") is True and make_dir(tmp_path / "a" / "b") is False
    with pytest.raises(RunDirError, match="exists and is not a directory"):
        make_dir(tmp_path / "file")


def test_one_writer_per_directory_and_a_dead_owners_lock_is_taken_over(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {"pid": sleeper.pid, "host": DirectoryLock(tmp_path).owner["host"], "since": int(time.time())}
        (tmp_path / ".lock").write_text(json.dumps(owner))
        with pytest.raises(RunDirError, match=rf"is in use by process {sleeper.pid} on .* wait for it to finish, or .* delete .*\.lock"):
            DirectoryLock(tmp_path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    with DirectoryLock(tmp_path) as lock:  # its owner is gone: taken over
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid() and lock.held
    assert not (tmp_path / ".lock").exists()
    (tmp_path / ".lock").write_text("")  # a write that never finished
    DirectoryLock(tmp_path).acquire().release()


def test_another_hosts_lock_is_never_taken_over(tmp_path):
    (tmp_path / ".lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": 0}))
    with pytest.raises(RunDirError, match="in use by process 1 on elsewhere"):
        DirectoryLock(tmp_path).acquire()


def test_lookups_and_checks_name_the_value():
    with pytest.raises(ConfigError, match=r"unknown interpolation method 'slrep'; choose one of: lerp, slerp"):
        lookup({"lerp": 1, "slerp": 2}, "slrep", "interpolation method")
    with pytest.raises(ConfigError, match="--iw-samples must be at least 1, got 0"):
        at_least("iw_samples", 0, 1)
    with pytest.raises(ConfigError, match="--iw-samples must be an integer, got 2.5"):
        at_least("iw_samples", 2.5, 1)
    with pytest.raises(ConfigError, match="--range must be a finite number, got nan"):
        in_range("range", float("nan"), 0)
    with pytest.raises(ConfigError, match="needs about 1.0 PiB of memory|would need about 1.0 PiB of memory"):
        memory.require(2**50, "a test", "ask for less")


@dataclass(frozen=True)
class Settings:
    n: int = 1
    x: float = 0.5
    kind: Literal["a", "b"] = "a"
    path: Path | None = None
    sizes: tuple[int, ...] = (1,)

    def __post_init__(self):
        check_fields(self)


def test_every_config_field_is_type_checked():
    assert Settings(path="p", sizes=[2, 3]) == Settings(path=Path("p"), sizes=(2, 3))  # a Python caller's str and list
    assert Settings(x=1).x == 1  # an int is a number
    bad_values = (
        ({"n": "3"}, "--n must be an integer, got '3'"),
        ({"n": True}, "--n must be an integer"),
        ({"x": float("inf")}, "--x must be a finite number"),
        ({"kind": "c"}, "unknown --kind 'c'; choose one of: a, b"),
        ({"sizes": ("1",)}, "--sizes must be a list of integers"),
    )
    for bad, pattern in bad_values:
        with pytest.raises(ConfigError, match=pattern):
            Settings(**bad)
