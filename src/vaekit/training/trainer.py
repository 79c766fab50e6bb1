"""The training loop: index batches from an in-memory tensor, fused Adam, no host sync per step.

Determinism: the data order of epoch e comes from a generator seeded with (seed, e), and all
training noise (reparameterization, dynamic binarization) from one generator whose state is saved
in every checkpoint. So a run interrupted anywhere and resumed ends with bitwise the same weights
as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from vaekit.data import DatasetSplits, InMemoryDataset
from vaekit.distributions import unchecked
from vaekit.errors import ConfigError, TrainingDiverged
from vaekit.objectives import Critic, Objective
from vaekit.run.layout import BEST, METRICS, WEIGHTS
from vaekit.runtime import distributed
from vaekit.runtime.files import append_line, atomic_write_bytes, read_jsonl, save_tensors
from vaekit.training import progress as shown
from vaekit.training.checkpoint import Progress, load_state, save_state
from vaekit.training.config import TrainConfig
from vaekit.training.precision import Precision, widen
from vaekit.training.schedules import learning_rate
from vaekit.types import ModelOutput, Step

VALID_SEED = 12345  # validation noise is the same every epoch, so epochs are comparable
EVAL_BATCH = 1000


@dataclass(frozen=True)
class TrainResult:
    """How training ended."""

    run_dir: Path
    progress: Progress
    interrupted: bool
    last_metrics: dict[str, float]
    stopped_early: bool = False


def epoch_order(seed: int, epoch: int, n: int, device: torch.device) -> torch.Tensor:
    """The shuffled example order of ``epoch``, (n,): a pure function of (seed, epoch)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).to(device)


@torch.no_grad()
def mean_terms(model: torch.nn.Module, objective: Objective, data: InMemoryDataset, seed: int) -> dict[str, float]:
    """Mean of each loss term over a whole split, with fixed noise, spread over the ranks.

    Batch b draws its noise from a generator seeded with ``seed + b``, so the result does not depend
    on how many processes share the batches.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    world = distributed.current()
    sums: dict[str, torch.Tensor] = {}
    starts = list(range(0, len(data), EVAL_BATCH))
    for start in starts[world.rank :: world.size]:
        index = slice(start, start + EVAL_BATCH)
        generator = torch.Generator(device=device).manual_seed(seed + start // EVAL_BATCH)
        x = data.batch(index, generator)  # (B, C, H, W)
        condition = data.condition(index, model.conditioning, model.condition_dim)  # (B, Y) or None
        output = scored(model(x, generator, condition))
        for k, v in objective(output, x, None).named().items():  # None: end-of-schedule weights
            sums[k] = sums.get(k, 0) + v.sum()
    model.train(was_training)
    names = distributed.from_main(list(sums))  # rank 0 always has a batch; a rank without one adds zeros
    total = distributed.all_reduce(torch.stack([torch.as_tensor(sums.get(k, 0.0), dtype=torch.float32, device=device) for k in names]))
    return {k: float(v) / len(data) for k, v in zip(names, total.tolist(), strict=True)}


def scored(output: ModelOutput) -> ModelOutput:
    """The output with its likelihood's support check off: the trainer checks every split once
    before the first step (``Trainer.check_data``), so batches need no host sync for it."""
    return replace(output, likelihood=unchecked(output.likelihood))


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop stops at the next step boundary and checkpoints."""

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):  # noqa: ARG001
            if self.requested:  # a second Ctrl-C stops at once
                raise KeyboardInterrupt
            self.requested = True

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


class Trainer:
    """Minimises ``objective(model(x), x).loss.mean()`` with Adam and writes the run directory.

    Args:
        model: any module whose ``forward(x, generator)`` returns what ``objective`` takes.
        objective: ``f(output, x) -> LossTerms`` with per-example terms (B,) in nats.
        data: train / valid splits (already on ``device``).
        config: the loop's settings; ``config.epochs`` must be resolved (not None).
        run_dir: an existing directory with ``config.json`` in it.
        on_epoch_end: called as ``f(epoch, model, metrics)`` after each epoch's checkpoint (images, tracking), with the
            epoch's line of ``metrics.jsonl``.
        echo: where progress lines go when stderr is not a terminal (``progress.reporter``).
    """

    def __init__(
        self,
        model,
        objective: Objective,
        data: DatasetSplits,
        config: TrainConfig,
        run_dir: Path,
        on_epoch_end: Callable[[int, torch.nn.Module, dict[str, float]], None] | None = None,
        echo: shown.Echo | None = None,
    ):
        if config.epochs is None:
            raise ConfigError("TrainConfig.epochs must be set before training")
        self.model, self.objective, self.data, self.config = model, objective, data, config
        self.run_dir, self.on_epoch_end, self.echo = Path(run_dir), on_epoch_end, echo
        self.device = next(model.parameters()).device
        self.world = distributed.current()
        if len(data.train) < self.world.size:
            raise ConfigError(f"{len(data.train)} training examples cannot be spread over {self.world.size} processes; use fewer processes")
        # Under torchrun: gradients are averaged over ranks by DDP, which starts every rank from rank 0's weights.
        self.step_model = (
            DistributedDataParallel(model, device_ids=[self.device] if self.device.type == "cuda" else None, gradient_as_bucket_view=True)
            if self.world.active
            else model
        )
        fused = self.device.type in ("cpu", "cuda", "mps")
        self.optimizer = torch.optim.Adam(model.optimizer_groups(), lr=config.lr, fused=fused)
        # An objective's learned part (a discriminator) has its own optimizer: the second step of _step.
        self.critic: Critic | None = getattr(objective, "critic", None)
        if getattr(objective, "needs_prior_sample", False) and model.has_prior:
            model.draws_prior_sample = True  # the adversarial term also judges decoded prior samples
        self.critic_optimizer = None
        if self.critic is not None:
            self.critic.to(self.device).requires_grad_(False)  # frozen except in its own step
            self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=self.critic.lr, betas=self.critic.betas, fused=fused)
        self.precision = Precision(config.precision, self.device)
        # Each rank its own noise; rank 0's stream is the single-process one.
        self.generator = torch.Generator(device=self.device).manual_seed(distributed.rank_seed(config.seed))
        self.progress = Progress()
        self.saved = self.progress  # progress of the last checkpoint on disk
        self.sums: dict[str, torch.Tensor] = {}
        self.best_weights: dict[str, torch.Tensor] | None = None  # flushed with each checkpoint
        self.last_checkpoint = time.monotonic()
        self.stop = _StopFlag()
        self.data_checked = False
        self.started = False  # a checkpoint exists (start() wrote the first one, or resume() read one)

    def resume(self) -> None:
        """Load ``training_state.safetensors`` and forget metric lines past its last epoch."""
        self.progress, self.sums, scaler = load_state(
            self.run_dir, self.model, self.optimizer, self.generator, self.device, self.world.rank, self._critic_pair()
        )
        self.precision.load_state(scaler)
        self.saved = self.progress
        self.started = True
        path = self.run_dir / METRICS
        if self.world.is_main and path.is_file():  # a cut last line (a killed process) is skipped with a warning
            kept = [row for row in read_jsonl(path) if isinstance(row.get("epoch"), int) and row["epoch"] <= self.progress.epoch]
            atomic_write_bytes(path, "".join(json.dumps(row) + "\n" for row in kept).encode())

    def checkpoint(self) -> None:
        """Write the latest and best weights, then the training state (each file atomically).

        The state is written last: a run killed in between resumes from the previous state, whose
        epoch is at or before the weights on disk, and redoes the same steps bit for bit. Every rank
        calls this at the same step; only rank 0 writes, and no rank returns before the files are
        there (a script that evaluates the run next must not read the previous weights).
        """
        # Each rank's own RNG and sums, so a resumed run adds up in the same order as an uninterrupted one.
        rng_states = distributed.gather(self.generator.get_state())
        per_rank = [distributed.gather(v) for _, v in sorted(self.sums.items())]  # the same key order on every rank
        sums = [dict(zip(sorted(self.sums), values, strict=True)) for values in zip(*per_rank, strict=True)] if per_rank else [{}]
        if self.world.is_main:
            save_tensors(self.run_dir / WEIGHTS, self.model.state_dict())
            if self.best_weights is not None:
                save_tensors(self.run_dir / BEST, self.best_weights, {"epoch": str(self.progress.best_epoch)})
                self.best_weights = None
            save_state(
                self.run_dir,
                self.model,
                self.optimizer,
                rng_states,
                sums,
                self.progress,
                self.precision.state(),
                self.device.type,
                self._critic_pair(),
            )
        distributed.barrier()
        self.last_checkpoint = time.monotonic()
        self.saved = self.progress

    def _critic_pair(self) -> tuple[torch.nn.Module, torch.optim.Optimizer] | None:
        return None if self.critic is None else (self.critic, self.critic_optimizer)

    def start(self) -> None:
        """Check the data and write the first checkpoint of a new run: from here on it is resumable."""
        if not self.data_checked:
            self.check_data()
        self.checkpoint()
        self.started = True

    def fit(self, stop_at_step: int | None = None) -> TrainResult:
        """Train until ``config.epochs`` (or a stop request, or ``stop_at_step`` global steps)."""
        self.model.train()
        if not self.started:  # a new run that nobody started: its first checkpoint
            self.start()
        elif not self.data_checked:
            self.check_data()
        metrics: dict[str, float] = {}
        report = shown.reporter(self.config.progress and self.world.is_main, self.total_steps, self.progress.global_step, self.echo)
        try:
            with self.stop.installed():
                while self.progress.epoch < self.config.epochs:
                    if self._patience_exhausted():
                        self.checkpoint()
                        return TrainResult(self.run_dir, self.progress, False, metrics, stopped_early=True)
                    if not self._run_epoch(report, stop_at_step):
                        self.checkpoint()
                        return TrainResult(self.run_dir, self.progress, True, metrics)
                    metrics = self._end_epoch()
                    report.end_epoch(metrics)
        finally:
            report.close()
        return TrainResult(self.run_dir, self.progress, False, metrics)

    def _patience_exhausted(self) -> bool:
        p, patience = self.progress, self.config.patience
        return patience is not None and p.epoch > 0 and p.epoch - p.best_epoch >= patience

    @property
    def global_batch(self) -> int:
        """Examples per optimizer step over all ranks."""
        return self.config.batch_size * self.world.size

    @property
    def steps_per_epoch(self) -> int:
        """Full steps, and a last partial one if it can give every rank an example (with N ranks up
        to N - 1 examples of an epoch's order are left out; one process leaves none)."""
        full, rest = divmod(len(self.data.train), self.global_batch)
        return full + (rest >= self.world.size)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs

    def _step(self, x: torch.Tensor, condition: torch.Tensor | None = None, step_examples: int | None = None) -> dict[str, torch.Tensor]:
        """One optimizer step on this rank's batch x, one of the step's ``step_examples`` over all
        ranks (default: x.shape[0] on each rank); schedules at the current global step.

        Returns:
            The loss terms by name, (B,) each, and the critic's loss when the objective has one.
        """
        step_examples = step_examples or x.shape[0] * self.world.size
        cfg, step = self.config, self.progress.global_step
        lr = learning_rate(step, self.total_steps, cfg.lr, cfg.lr_schedule, cfg.lr_warmup_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.precision.autocast():
            output = self.step_model(x, self.generator, condition)
        if self.precision.name != "fp32":
            output = widen(output)  # losses in float32 (training/precision.py)
        terms = self.objective(scored(output), x, Step(step, self.total_steps))
        # The mean over the whole step's examples: DDP averages the ranks' gradients, so each rank
        # contributes its sum x ranks / examples (exact also when the last step splits unevenly).
        loss = terms.loss.sum() * (self.world.size / step_examples) if self.world.active else terms.loss.mean()
        self.optimizer.zero_grad(set_to_none=True)
        scaler = self.precision.scaler
        scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)  # stays on device
        scaler.step(self.optimizer)
        named = terms.named()
        if self.critic is not None:
            named["critic"] = self._critic_step(output, x, step_examples)
        scaler.update()
        stats = self.model.after_step(output, distributed.all_reduce)  # e.g. the VQ-VAE's codebook moving averages, from all ranks' batches
        return named | (stats or {})

    def _critic_step(self, output: ModelOutput, x: torch.Tensor, step_examples: int) -> torch.Tensor:
        """The second optimizer step: the critic learns from this step's outputs (detached), after
        the model's step read it frozen (as FactorVAE's Algorithm 2 alternates them). Its
        gradients are averaged over the ranks by hand: it is not part of the DDP model."""
        critic, optimizer, scaler = self.critic, self.critic_optimizer, self.precision.scaler
        critic.requires_grad_(True)
        with self.precision.autocast():
            per_example = critic.critic_loss(output, x, self.generator).float()  # (B,)
        loss = per_example.sum() * (self.world.size / step_examples) if self.world.active else per_example.mean()
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.world.active:
            for p in critic.parameters():
                distributed.all_reduce(p.grad)
        scaler.step(optimizer)
        critic.requires_grad_(False)
        return per_example.detach()

    def check_data(self) -> None:
        """Check the training and validation splits against the likelihood's support once, up front."""
        with torch.no_grad():
            x = self.data.train.batch(slice(0, 2))
            condition = self.data.train.condition(slice(0, 2), self.model.conditioning, self.model.condition_dim)
            throwaway = torch.Generator(device=self.device).manual_seed(0)  # leaves the training RNG untouched
            likelihood = self.model(x, throwaway, condition).likelihood
            for split in (self.data.train, self.data.valid):
                for values in split.value_chunks():
                    likelihood.check_support(values)
        self.data_checked = True

    def _run_epoch(self, report: shown.Silent, stop_at_step: int | None) -> bool:
        """Run the rest of the current epoch; False when stopped early (state is consistent)."""
        cfg, p, steps, world = self.config, self.progress, self.steps_per_epoch, self.world
        order = epoch_order(cfg.seed, p.epoch, len(self.data.train), self.device)
        first_bad = torch.full((), -1, dtype=torch.long, device=self.device)
        started = time.perf_counter()
        report.start_epoch(p.epoch + 1, cfg.epochs, steps)
        try:
            for i in range(p.step_in_epoch, steps):
                step_index = order[i * self.global_batch : (i + 1) * self.global_batch]
                index = step_index.tensor_split(world.size)[world.rank] if world.active else step_index  # this rank's shard
                x = self.data.train.batch(index, self.generator)  # (B, C, H, W)
                terms = self._step(x, self.data.train.condition(index, self.model.conditioning, self.model.condition_dim), len(step_index))
                with torch.no_grad():  # accumulate on the device; read back only at log points
                    for k, v in terms.items():
                        self.sums[k] = self.sums.get(k, torch.zeros((), device=self.device)) + v.detach().sum()
                    self.sums["count"] = self.sums.get("count", torch.zeros((), device=self.device)) + x.shape[0]
                    first_bad = torch.where((first_bad < 0) & ~torch.isfinite(terms["loss"]).all(), p.global_step + 1, first_bad)
                p = self.progress = replace(p, step_in_epoch=i + 1, global_step=p.global_step + 1)
                log_point = (i + 1) % cfg.log_every == 0 or i + 1 == steps
                if log_point:
                    stop = self._agree(first_bad, steps)
                    report.log(p.global_step, i + 1, float(self.sums["loss"] / self.sums["count"]))
                else:  # several ranks stop only at log points, where they agree on it
                    stop = self.stop.requested and not world.active
                if stop or (stop_at_step is not None and p.global_step >= stop_at_step):
                    if not log_point:  # a log point has just checked
                        self._agree(first_bad, steps)
                    return False
        finally:
            self.progress = replace(self.progress, elapsed_s=self.progress.elapsed_s + time.perf_counter() - started)
        return True

    def _agree(self, first_bad: torch.Tensor, steps: int) -> bool:
        """Raise if any rank's loss went non-finite; True if any rank was asked to stop."""
        never = torch.iinfo(torch.long).max
        flags = torch.stack([torch.where(first_bad < 0, never, first_bad), torch.tensor(-int(self.stop.requested), device=self.device)])
        bad, stop = distributed.all_reduce(flags, "min").tolist()  # the first bad step of any rank; -1 if any rank stops
        self._check_finite(-1 if bad == never else bad, steps)
        return stop < 0

    def _check_finite(self, bad: int, steps: int) -> None:
        if bad >= 0:
            raise TrainingDiverged(
                f"the loss became NaN or infinite at step {bad} (epoch {self.progress.epoch + 1}, {steps} steps per epoch); "
                f"training stopped and the last good checkpoint ({self._saved_at()}) is kept in {self.run_dir}. "
                f"Try a lower --lr (now {self.config.lr:g}) or a larger --gaussian-std"
            )

    def _saved_at(self) -> str:
        s = self.saved
        return f"epoch {s.epoch}" + (f", step {s.step_in_epoch} of epoch {s.epoch + 1}" if s.step_in_epoch else "")

    def _end_epoch(self) -> dict[str, float]:
        """Validate, log a metrics line, save weights (best too), checkpoint, call back."""
        p = self.progress
        totals = distributed.all_reduce(torch.stack([v for _, v in sorted(self.sums.items())]))  # all ranks' examples
        sums = dict(zip(sorted(self.sums), totals.tolist(), strict=True))
        count = sums.pop("count")
        train = {f"train_{k}": v / count for k, v in sums.items()}
        valid = (
            {f"valid_{k}": v for k, v in mean_terms(self.model, self.objective, self.data.valid, VALID_SEED).items()}
            if len(self.data.valid)
            else {}
        )
        epoch = p.epoch + 1
        score = valid.get("valid_loss", train["train_loss"])
        if not math.isfinite(score):
            raise TrainingDiverged(
                f"the validation loss is {score} after epoch {epoch}; the last good checkpoint ({self._saved_at()}) "
                f"is kept in {self.run_dir}. Try a lower --lr"
            )
        improved = score < p.best_valid
        self.progress = p = replace(
            p, epoch=epoch, step_in_epoch=0, best_valid=min(score, p.best_valid), best_epoch=epoch if improved else p.best_epoch
        )
        metrics = {"epoch": epoch, "step": p.global_step, "elapsed_s": round(p.elapsed_s, 3), **train, **valid}
        self.sums = {}
        if self.world.is_main:
            append_line(self.run_dir / METRICS, metrics)  # one whole line, fsynced
            if improved:
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        due = torch.tensor(float(time.monotonic() - self.last_checkpoint >= self.config.checkpoint_every_s), device=self.device)
        if distributed.broadcast(due).item() or epoch == self.config.epochs:  # rank 0's clock decides for all
            self.checkpoint()
        if self.on_epoch_end is not None and self.world.is_main:
            self.on_epoch_end(epoch, self.model, metrics)
        return metrics
