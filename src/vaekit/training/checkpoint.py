"""Training state for --resume: one safetensors file, written atomically, so it is always whole.

Holds the model weights, the optimizer state, and each rank's training RNG and running sums of the
current epoch, plus progress counters and the fp16 gradient scaler as JSON metadata. Nothing is
pickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from vaekit.errors import RunDirError
from vaekit.run.layout import STATE
from vaekit.runtime.files import load_tensors, save_tensors


@dataclass(frozen=True)
class Progress:
    """Where training stands.

    Attributes:
        epoch: epochs completed.
        step_in_epoch: optimizer steps done in the current (unfinished) epoch.
        global_step: optimizer steps done in all.
        best_valid: best validation loss so far (inf when none).
        best_epoch: the epoch that reached it (0 when none).
        elapsed_s: training wall time so far.
    """

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_valid: float = float("inf")
    best_epoch: int = 0
    elapsed_s: float = 0.0


def _rng_key(rank: int) -> str:
    return "rng.train" if rank == 0 else f"rng.train.{rank}"


def _sums_prefix(rank: int) -> str:
    return "sums." if rank == 0 else f"sums.{rank}."  # term names have no dots


def save_state(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rng_states: list[torch.Tensor],
    sums: list[dict[str, torch.Tensor]],
    progress: Progress,
    scaler: dict[str, Any] | None = None,
    rng_device: str = "cpu",
) -> None:
    """Write ``training_state.safetensors`` atomically.

    Args:
        rng_states: the training generator's state on each rank, rank 0 first.
        sums: each rank's running sums of the epoch so far, rank 0 first.
        scaler: the fp16 gradient scaler's state, when there is one.
        rng_device: the device type of the generators (a CUDA generator's state means nothing to a CPU one).
    """
    opt = optimizer.state_dict()
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for pid, state in opt["state"].items():
        tensors.update({f"optim.{pid}.{k}": torch.as_tensor(v) for k, v in state.items()})
    for rank, rank_sums in enumerate(sums):
        tensors.update({f"{_sums_prefix(rank)}{k}": v for k, v in rank_sums.items()})
    tensors.update({_rng_key(rank): state for rank, state in enumerate(rng_states)})
    metadata = {
        "progress": json.dumps(asdict(progress)),
        "param_groups": json.dumps(opt["param_groups"]),
        "scaler": json.dumps(scaler or {}),
        "rng_device": rng_device,
    }
    save_tensors(run_dir / STATE, tensors, metadata)


def load_state(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: torch.device,
    rank: int = 0,
) -> tuple[Progress, dict[str, torch.Tensor], dict[str, Any]]:
    """Restore model, optimizer and ``rank``'s RNG in place.

    Returns:
        The progress, ``rank``'s running sums of the epoch and the gradient scaler's state.
    """
    path = run_dir / STATE
    if not path.is_file():
        raise RunDirError(f"{run_dir}: has no {STATE}, so it cannot be resumed; start a new run instead")
    tensors, metadata = load_tensors(path)
    saved_on = metadata.get("rng_device", "cpu")
    if saved_on != generator.device.type:
        raise RunDirError(
            f"{run_dir} was checkpointed on {saved_on} and its training noise cannot continue on {generator.device.type}; "
            f"resume it with --device {saved_on} (its weights load on any device, e.g. vaekit evaluate --device {generator.device.type})"
        )
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
        generator.set_state(tensors[_rng_key(rank)])
        progress = Progress(**json.loads(metadata["progress"]))
        scaler = json.loads(metadata.get("scaler", "{}"))
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        reason = " ".join(line.strip() for line in str(e).strip().splitlines()[:2]) or type(e).__name__
        raise RunDirError(f"{path}: does not match this run's model or optimizer ({reason}); the file is damaged") from None
    prefix = _sums_prefix(rank)
    sums = {k[len(prefix) :]: v.to(device) for k, v in tensors.items() if k.startswith(prefix) and "." not in k[len(prefix) :]}
    return progress, sums, scaler
