"""What training shows while it runs: a bar on a terminal, plain lines anywhere else.

On a terminal, a tqdm bar over all steps shows the epoch, the running training loss and the last
validation loss, and stays on screen when training ends. Piped or in CI (stderr not a terminal),
a bar would print nothing until the end, so plain lines are written: the first and last epoch, any
epoch that ends ``epoch_s`` seconds or more after the previous line (so fast epochs do not flood a
log), and one every ``every_s`` seconds inside a long epoch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tqdm import tqdm

Echo = Callable[[str], None]
EVERY_S = 30.0
EPOCH_S = 5.0


class Silent:
    """No output (progress off, or a rank other than 0)."""

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        """Epoch ``epoch`` (1-based) of ``epochs`` begins; it has ``steps`` steps."""

    def log(self, global_step: int, step_in_epoch: int, loss: float) -> None:
        """The running mean training loss at a log point."""

    def end_epoch(self, metrics: dict[str, float]) -> None:
        """The epoch's metrics line (train_* and valid_* terms, elapsed_s)."""

    def close(self) -> None:
        """Training ended (or stopped)."""


class Bar(Silent):
    """A tqdm bar over every step of the run."""

    def __init__(self, total: int, initial: int):
        self.bar = tqdm(total=total, initial=initial, unit="step", leave=True, file=sys.stderr, dynamic_ncols=True)
        self.postfix: dict[str, str] = {}

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)

    def log(self, global_step: int, step_in_epoch: int, loss: float) -> None:
        self.postfix["loss"] = f"{loss:.2f}"
        self.bar.set_postfix(self.postfix, refresh=False)  # the last valid_loss stays beside the loss
        self.bar.update(global_step - self.bar.n)

    def end_epoch(self, metrics: dict[str, float]) -> None:
        if "valid_loss" in metrics:
            self.postfix["valid_loss"] = f"{metrics['valid_loss']:.2f}"
        self.bar.set_postfix(self.postfix)

    def close(self) -> None:
        self.bar.close()


class Lines(Silent):
    """Epoch lines (at most one every ``epoch_s`` seconds, besides the first and the last), and a
    line every ``every_s`` seconds within an epoch."""

    def __init__(self, echo: Echo, every_s: float = EVERY_S, epoch_s: float = EPOCH_S):
        self.echo, self.every_s, self.epoch_s = echo, every_s, epoch_s
        self.epoch = self.epochs = self.steps = 0
        self.last = time.monotonic()

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.epoch, self.epochs, self.steps = epoch, epochs, steps

    def log(self, global_step: int, step_in_epoch: int, loss: float) -> None:
        if time.monotonic() - self.last >= self.every_s and step_in_epoch < self.steps:
            self.echo(f"epoch {self.epoch}/{self.epochs} step {step_in_epoch}/{self.steps}: loss {loss:.3f}")
            self.last = time.monotonic()

    def end_epoch(self, metrics: dict[str, float]) -> None:
        if 1 < self.epoch < self.epochs and time.monotonic() - self.last < self.epoch_s:
            return
        shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k in ("train_loss", "valid_loss"))
        self.echo(f"epoch {self.epoch}/{self.epochs}: {shown} nats ({metrics.get('elapsed_s', 0.0):.2f} s)")
        self.last = time.monotonic()


def reporter(enabled: bool, total: int, initial: int, echo: Echo | None, terminal: bool | None = None) -> Silent:
    """The bar on a terminal, lines through ``echo`` elsewhere, or nothing.

    Args:
        enabled: ``--progress`` (and this is the process that prints).
        total, initial: steps of the whole run, and those already done (a resumed run).
        echo: where lines go (the CLI's stderr printer); without one, nothing is printed off a terminal.
        terminal: whether stderr is a terminal (default: ask it).
    """
    if not enabled:
        return Silent()
    if sys.stderr.isatty() if terminal is None else terminal:
        return Bar(total, initial)
    return Lines(echo) if echo is not None else Silent()
