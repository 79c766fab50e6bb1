"""Every class of bad input, as a hostile user would try it: one line on stderr that names the thing,
exit status 2, no traceback, no run directory left behind, and bounded memory.

The cases run in one child process whose address space is capped (RLIMIT_AS), so a size check that
failed would end in a MemoryError there instead of an attempt to allocate terabytes here; the
child's peak memory over all cases is checked too.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaekit.commands import train

from conftest import tiny_run_config

ADDRESS_SPACE = 8 << 30  # the child may not map more than 8 GiB
PEAK_RSS = 2 << 30  # and must stay under 2 GiB resident over all cases

RUNNER = """
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from vaekit.cli import main
results = {{}}
for name, argv in json.loads(sys.stdin.read()).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except BaseException as e:  # anything that escapes main is a failure of the case
            code, err = -1, io.StringIO(f"Traceback: {{type(e).__name__}}: {{e}}")
    results[name] = {{"code": code, "stderr": err.getvalue()}}
results["__maxrss_kib__"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(results))
"""


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """A version-1 .npy header that claims ``shape`` (the data after it is whatever the test writes)."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}".encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + pad + 1) + text + b" " * pad + b"\n"


def _damaged_copy(run: Path, where: Path, change) -> Path:
    """A copy of ``run`` whose config.json went through ``change(config)`` (or is the text it returns)."""
    where.mkdir()
    for f in run.iterdir():
        if f.is_file():
            (where / f.name).write_bytes(f.read_bytes())
    config = json.loads((run / "config.json").read_text())
    text = change(config)
    (where / "config.json").write_text(text if isinstance(text, str) else json.dumps(config))
    return where


FILES = [
    "lie.npy",
    "lie.npz",
    "zero_rows.npy",
    "zero_width.npy",
    "complex.npy",
    "strings.npy",
    "nan.npy",
    "inf.npy",
    "objects.npy",
    "mu_nan.npz",
    "mu_empty.npz",
    "mu_complex.npz",
    "no_mu.npz",
    "mu_lie.npz",
    "bomb.png",
    "fake.png",
    "a_file",
]


def _write_files(root: Path) -> None:
    """The hostile files the cases read, in ``root``."""
    f = {name: root / name for name in FILES}
    f["lie.npy"].write_bytes(npy_header((10**6, 10**6)) + bytes(100))  # claims 4 TB
    with zipfile.ZipFile(f["lie.npz"], "w") as z:
        z.writestr("x.npy", npy_header((10**7, 10**6)) + bytes(64))
    for name, array in {
        "zero_rows.npy": np.zeros((0, 5), np.float32),
        "zero_width.npy": np.zeros((5, 0), np.float32),
        "complex.npy": np.ones((10, 4), np.complex64),
        "strings.npy": np.array([["a"] * 4] * 10),
        "nan.npy": np.full((10, 4), np.nan, np.float32),
        "inf.npy": np.full((10, 4), np.inf),
    }.items():
        np.save(f[name], array)
    np.save(f["objects.npy"], np.array([[1, "a"]] * 10, dtype=object), allow_pickle=True)
    for name, arrays in {
        "mu_nan.npz": {"mu": np.full((3, 4), np.nan, np.float32)},
        "mu_empty.npz": {"mu": np.zeros((0, 4), np.float32)},
        "mu_complex.npz": {"mu": np.ones((3, 4), np.complex64)},
        "no_mu.npz": {"z": np.zeros((3, 4), np.float32)},
    }.items():
        np.savez(f[name], **arrays)
    with zipfile.ZipFile(f["mu_lie.npz"], "w") as z:
        z.writestr("mu.npy", npy_header((10**9, 4)) + bytes(64))
    Image.new("L", (12_000, 12_000)).save(f["bomb.png"])  # 144 megapixels in a few KB
    f["fake.png"].write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    f["a_file"].write_text("not a directory")


DAMAGED = {  # name -> (how config.json is damaged, the error line)
    "null-section": (lambda c: c.__setitem__("model", None), r"section 'model' is null, not an object"),
    "string-number": (
        lambda c: c["model"].__setitem__("latent_dim", "20"),
        r"invalid 'model' section: --latent-dim must be an integer, got '20'",
    ),
    "negative-size": (lambda c: c["model"].__setitem__("hidden", [-3]), r"--hidden sizes must be positive"),
    "absurd-size": (lambda c: c["model"].__setitem__("hidden", [10**9]), r"would need about .* TiB of memory, but .* is available"),
    "absurd-image": (
        lambda c: c["model"].__setitem__("input_shape", [1, 10**5, 10**5]),
        r"built for inputs of shape \(1, 100000, 100000\) but the data",
    ),
    "unknown-field": (lambda c: c["model"].__setitem__("colour", "red"), r"unknown model field\(s\) \['colour'\]"),
    "not-json": (lambda c: "{not json", r"config.json: cannot parse"),
    "deep-json": (lambda c: "[" * 100_000, r"config.json: cannot parse"),
    "huge-file": (lambda c: " " * (2 << 20), r"far too large for a run's config"),
    "bad-world-size": (lambda c: c.__setitem__("world_size", "x"), r"world_size is \"x\", not a positive integer"),
    "float-epochs": (lambda c: c["train"].__setitem__("epochs", 2.5), r"invalid 'train' section: --epochs must be an integer or null"),
    "nan-lr": (lambda c: c["train"].__setitem__("lr", float("nan")), r"--lr must be a finite number"),
    "bad-preset": (lambda c: c.__setitem__("preset", 5), r"preset 5 is not one of"),
    "wrong-weights": (lambda c: c["model"].__setitem__("latent_dim", 5), r"does not match this run's model .*size mismatch"),
}


def _cases(run: Path, tmp: Path) -> dict[str, tuple[list, str, Path | None]]:
    """name -> (argv, the pattern of the one error line, a run directory that must not exist afterwards)."""
    f = {name: tmp / name for name in FILES}
    out = tmp / "new-run"
    cases = {}
    for name, (_, pattern) in DAMAGED.items():
        cases[f"config-{name}"] = (["train", "--resume", tmp / f"run-{name}", "--epochs", "5"], pattern, None)
    cases["config-evaluate-null"] = (["evaluate", tmp / "run-null-section"], r"section 'model' is null", None)
    cases["config-evaluate-absurd-image"] = (["evaluate", tmp / "run-absurd-image"], r"would need about .* TiB of memory", None)
    cases["config-report-absurd"] = (["report", tmp / "run-absurd-size"], r"would need about .* of memory", None)

    sizes = {
        "hidden": (["train", "--hidden", "100000000"], r"this model \(.* of weights\) at batch 128 would need about"),
        "latent": (["train", "--latent-dim", "1000000000"], r"would need about .* TiB"),
        "codebook": (["train", "--model", "vq-vae", "--codebook-size", "1000000000"], r"would need about .* GiB"),
        "samples-per-example": (["train", "--model", "iwae", "--samples", "10000000"], r"at batch 128 would need about .* TiB"),
    }
    for name, (argv, pattern) in sizes.items():
        cases[f"size-{name}"] = ([*argv, "--out", out / name], pattern, out / name)
    cases["size-samples"] = (["sample", run, "--n", "1000000000", "--out", tmp / "s.png"], r"1,000,000,000 samples would need about", None)
    cases["size-steps"] = (["traverse", run, "--steps", "1000000000", "--out", tmp / "t.png"], r"a traversal of .* images would need", None)
    cases["size-iw-samples"] = (["evaluate", run, "--iw-samples", "1000000000000"], r"importance weights of K = 1,000,000,000,000", None)
    cases["size-extrapolate"] = (
        ["interpolate", run, "--a", "0", "--b", "1", "--extrapolate", "1e30", "--out", tmp / "i.png"],
        r"at most 10,000 fit in one strip",
        None,
    )

    arrays = {
        "lie.npy": r"header claims shape \(1000000, 1000000\) .* holds only 100 bytes",
        "lie.npz": r"array 'x': the header claims shape",
        "zero_rows.npy": r"has shape \(0, 5\); it needs at least one example",
        "zero_width.npy": r"has shape \(5, 0\)",
        "complex.npy": r"dtype complex64; expected real numbers",
        "strings.npy": r"dtype <U1; expected real numbers",
        "nan.npy": r"contains NaN or infinite values",
        "inf.npy": r"contains NaN or infinite values",
        "objects.npy": r"holds Python objects",
    }
    for name, pattern in arrays.items():
        cases[f"array-{name}"] = (["train", "--data", f"{name.split('.')[1]}:{f[name]}", "--out", out / name], pattern, out / name)
    latents = {
        "mu_nan.npz": r"array 'mu' contains NaN or infinite values",
        "mu_empty.npz": r"'mu' has shape \(0, 4\)",
        "mu_complex.npz": r"array 'mu': has dtype complex64",
        "no_mu.npz": r"no array 'mu' \(found \['z'\]\)",
        "mu_lie.npz": r"array 'mu': the header claims shape \(1000000000, 4\)",
        "lie.npy": r"header claims shape",
    }
    for name, pattern in latents.items():
        cases[f"decode-{name}"] = (["decode", run, f[name], "--out", tmp / "d.png"], pattern, None)

    cases["image-bomb"] = (
        ["interpolate", run, "--a-file", f["bomb.png"], "--b", "1", "--out", tmp / "i.png"],
        r"bomb.png: too large to decode",
        None,
    )
    cases["image-fake"] = (
        ["traverse", run, "--input-file", f["fake.png"], "--out", tmp / "t.png"],
        r"fake.png: cannot read as an image",
        None,
    )
    cases["image-missing"] = (
        ["attribute", run, "--attribute", "label=1", "--input-files", tmp / "none.png", "--out", tmp / "a.png"],
        r"none.png: cannot read as an image \(no such file\)",
        None,
    )

    numbers = {
        "range-nan": (["traverse", run, "--range", "nan", "--out", tmp / "t.png"], r"--range must be a finite number, got nan"),
        "range-inf": (["traverse", run, "--range", "inf", "--out", tmp / "t.png"], r"--range must be a finite number, got inf"),
        "extrapolate-nan": (
            ["interpolate", run, "--a", "0", "--b", "1", "--extrapolate", "nan", "--out", tmp / "i.png"],
            r"--extrapolate must be a finite number",
        ),
        "strength-nan": (
            ["attribute", run, "--attribute", "label=1", "--strength", "nan,1", "--out", tmp / "a.png"],
            r"--strength takes finite numbers",
        ),
        "temperature-nan": (["sample", run, "--temperature", "nan", "--out", tmp / "s.png"], r"--temperature must be a finite number"),
        "temperature-negative": (["sample", run, "--temperature", "-1", "--out", tmp / "s.png"], r"--temperature must be at least 0"),
        "lr-nan": (["train", "--lr", "nan", "--out", out / "lr"], r"--lr must be a finite number"),
        "beta-inf": (["train", "--beta", "inf", "--out", out / "beta"], r"--beta must be a finite number"),
        "noise-nan": (
            ["train", "--model", "dae", "--noise-level", "nan", "--out", out / "noise"],
            r"--noise-level must be a finite number",
        ),
    }
    for name, (argv, pattern) in numbers.items():
        cases[f"number-{name}"] = (argv, pattern, Path(argv[-1]) if argv[0] == "train" else None)

    paths = {
        "train-under-a-file": (["train", "--out", f["a_file"] / "run"], r"a_file is a file, not a directory"),
        "train-onto-a-file": (["train", "--out", f["a_file"]], r"a_file exists and is not an empty directory"),
        "train-in-proc": (
            ["train", "--out", "/proc/vaekit-run", "--epochs", "1"],
            r"/proc/vaekit-run: cannot write|--out /proc/vaekit-run: /proc is not writable",
        ),
        "sample-under-a-file": (["sample", run, "--out", f["a_file"] / "s.png"], r"a_file: is a file, not a directory"),
        "sample-missing-dir": (["sample", run, "--out", tmp / "nodir" / "s.png"], r"nodir: no such directory"),
        "sample-onto-a-dir": (["sample", run, "--out", tmp], r"images are written as .png"),
        "encode-in-proc": (["encode", run, "--out", "/proc/vaekit.npz"], r"/proc/vaekit.npz: cannot write|/proc: not writable"),
        "benchmark-under-a-file": (
            ["benchmark", Path(__file__).parents[2] / "bench" / "leaderboard.toml", "--out", f["a_file"] / "b"],
            r"a_file is a file, not a directory",
        ),
    }
    for name, (argv, pattern) in paths.items():
        cases[f"path-{name}"] = (argv, pattern, None)
    return cases


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[dict, dict]:
    tmp = tmp_path_factory.mktemp("hostile")
    run = tmp / "run"
    train(tiny_run_config(epochs=1), run, images=False)
    _write_files(tmp)
    for name, (change, _) in DAMAGED.items():
        _damaged_copy(run, tmp / f"run-{name}", change)
    cases = _cases(run, tmp)
    argvs = {name: [str(a) for a in argv] for name, (argv, _, _) in cases.items()}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER.format(limit=ADDRESS_SPACE)], input=json.dumps(argvs), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return cases, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(_cases(Path("run"), Path("tmp"))))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(hostile, name):
    cases, results = hostile
    _, pattern, leftover = cases[name]
    result = results[name]
    lines = result["stderr"].strip().splitlines()
    assert result["code"] == 2, result
    assert "Traceback" not in result["stderr"]
    assert len(lines) == 1 and lines[0].startswith("vaekit: error: "), lines
    assert re.search(pattern, lines[0]), lines[0]
    if leftover is not None:
        assert not leftover.exists(), f"{leftover} was left behind"


def test_memory_stays_bounded_over_every_bad_input(hostile):
    _, results = hostile
    peak = results["__maxrss_kib__"] * 1024
    print(f"peak resident memory over every bad input: {peak / 2**20:.0f} MiB")
    assert peak < PEAK_RSS, f"peak {peak / 2**20:.0f} MiB"
