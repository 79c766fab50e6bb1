"""A long ``vaekit evaluate`` keeps its progress in the run directory, so a stopped one goes on.

The papers' protocol, K = 5000 importance samples on a 10,000-image test split, takes hours on a
CPU (``bench/README.md``); a Ctrl-C, a closed laptop or a killed job must not throw that away. While
``evaluate`` runs, the per-example results so far, the posterior statistics and the generator's
state are written (atomically, every minute and when interrupted) to
``RUN/partial/evaluate-<key>-<part>.safetensors``. The same command, with the same weights, data and
arguments, goes on from the last kept example and reports exactly the numbers an uninterrupted run
gives; the files are removed when the command finishes. ``key`` is a digest of everything that
decides the numbers, so another evaluation of the run (other K, split, seed, weights) neither uses
nor disturbs them. Delete ``RUN/partial`` to start over.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from vaekit.data import InMemoryDataset
from vaekit.errors import RunDirError, VaekitWarning
from vaekit.evaluation import Progress
from vaekit.models import LatentModel
from vaekit.run.layout import PARTIAL
from vaekit.runtime.files import load_tensors, save_tensors

EVERY_S = 60.0
SAMPLED_ROWS = 512  # rows of the split hashed into the key: enough to tell splits apart, cheap for a memory-mapped one


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class RunJournal:
    """``evaluation.Journal`` in a run directory (see the module docstring).

    Args:
        run_dir: the run being evaluated.
        key: everything that decides the numbers (JSON-able); see ``evaluation_key``.
        every_s: seconds between writes while a pass runs (default ``EVERY_S``).
        echo: where progress lines go (stderr).
    """

    def __init__(self, run_dir: Path, key: dict[str, Any], every_s: float | None = None, echo: Callable[[str], None] = _stderr):
        self.dir = Path(run_dir) / PARTIAL
        self.key = json.dumps(key, sort_keys=True, default=str)
        self.digest = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        self.every_s, self.echo = EVERY_S if every_s is None else every_s, echo
        self.started = self.last = time.monotonic()
        self.resumed_at: dict[str, int] = {}
        self.written = False  # a short evaluation writes nothing
        self.off = False

    def path(self, part: str) -> Path:
        return self.dir / f"evaluate-{self.digest}-{part}.safetensors"

    def restore(self, part: str, n: int) -> Progress | None:
        path = self.path(part)
        if not path.is_file():
            return None
        try:
            tensors, meta = load_tensors(path)
            progress = _progress(tensors, meta, self.key, n)
        except (RunDirError, KeyError, ValueError) as e:
            warnings.warn(
                f"{path}: the kept progress cannot be used ({e}); this part of the evaluation starts over", VaekitWarning, stacklevel=2
            )
            return None
        self.resumed_at[part] = progress.done
        self.written = True
        if progress.done < n:
            self.echo(f"evaluate: going on from example {progress.done:,} of {n:,} ({part}), as kept in {path}")
        return progress

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every_s

    def keep(self, part: str, n: int, progress: Progress, *, interrupted: bool = False) -> None:
        if self.off or (progress.done == n and not self.written and not self.due()):
            return  # a pass that finished quickly needs no record
        path = self.path(part)
        tensors = {f"terms.{k}": v for k, v in progress.terms.items()} | {f"latents.{k}": v for k, v in progress.latents.items()}
        tensors["code_counts"] = progress.code_counts
        if progress.generator_state is not None:
            tensors["generator_state"] = progress.generator_state
        try:
            self.dir.mkdir(exist_ok=True)
            save_tensors(path, tensors, {"key": self.key, "n": str(n), "done": str(progress.done), "part": part})
        except (RunDirError, OSError) as e:
            self.off = True
            warnings.warn(
                f"cannot keep the evaluation's progress ({e}); it goes on, but would start over if stopped", VaekitWarning, stacklevel=2
            )
            return
        self.written, self.last = True, time.monotonic()
        if interrupted:
            self.echo(f"evaluate: stopped at example {progress.done:,} of {n:,} ({part}); kept in {path}: run the same command to go on")
        elif progress.done < n:
            self.echo(f"evaluate: {progress.done:,} of {n:,} examples ({part}), {self._eta(part, progress.done, n)}")

    def _eta(self, part: str, done: int, n: int) -> str:
        elapsed = time.monotonic() - self.started
        new = done - self.resumed_at.get(part, 0)
        left = f", about {_duration(elapsed * (n - done) / new)} left" if new > 0 else ""
        return f"{_duration(elapsed)} so far{left}"

    def discard(self) -> None:
        """The evaluation is complete: remove its kept progress (and RUN/partial when it is empty)."""
        for path in self.dir.glob(f"evaluate-{self.digest}-*.safetensors"):
            path.unlink(missing_ok=True)
        if self.dir.is_dir() and not any(self.dir.iterdir()):
            self.dir.rmdir()


@contextmanager
def stops_keep_progress() -> Iterator[None]:
    """SIGTERM (``kill``, a job scheduler's time limit) stops the evaluation as Ctrl-C does, so the
    batches finished since the last write are kept too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _progress(tensors: dict[str, torch.Tensor], meta: dict[str, str], key: str, n: int) -> Progress:
    """A kept file's ``Progress``, after checking it is this evaluation's and whole (ValueError if not)."""
    if meta.get("key") != key or int(meta["n"]) != n:
        raise ValueError("it was kept by another evaluation")
    done = int(meta["done"])
    terms = {k.removeprefix("terms."): v for k, v in tensors.items() if k.startswith("terms.")}
    latents = {k.removeprefix("latents."): v for k, v in tensors.items() if k.startswith("latents.")}
    if not 0 < done <= n or not terms or any(len(v) != done for v in (*terms.values(), *latents.values())):
        raise ValueError(f"it holds {done} examples, not the same number in every table")
    return Progress(done, terms, latents, tensors.get("generator_state"), tensors["code_counts"])


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{seconds:.0f} s" if seconds < 90 else f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


def evaluation_key(model: LatentModel, data: InMemoryDataset, **arguments: Any) -> dict[str, Any]:
    """What decides an evaluation's numbers: the weights (a digest of every tensor), the split (its
    size, a digest of a strided sample of its rows, labels and attributes) and the ``arguments``
    (K, seed, chunking, device, ...), with the torch version (its kernels round differently)."""
    weights = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        weights.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        weights.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return {"weights": weights.hexdigest(), "split": split_key(data), "torch": torch.__version__, **arguments}


def split_key(data: InMemoryDataset) -> dict[str, Any]:
    """A split's size, shape, scaling and a digest of a strided sample of its rows, labels and attributes."""
    rows = data.x[:: max(1, len(data) // SAMPLED_ROWS)]
    sample = hashlib.sha256(rows.cpu().contiguous().numpy().tobytes())
    for extra in (data.labels, data.attributes):
        if extra is not None:
            sample.update(extra.cpu().contiguous().numpy().tobytes())
    return {"n": len(data), "shape": list(data.shape), "scale": data.scale, "dynamic": data.dynamic_binarize, "rows": sample.hexdigest()}
