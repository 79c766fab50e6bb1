"""Training state for --resume: one safetensors file, written atomically, so it is always whole.

Holds the model weights, the optimizer state (and those of the objective's critic, if any), and
each rank's training RNG and running sums of the current epoch, plus progress counters and the
fp16 gradient scaler as JSON metadata. Nothing is pickled.
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


CRITIC, CRITIC_OPTIM = "critic", "critic_optim"  # the objective's learned part (training/trainer.py, _critic_step)


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
    critic: tuple[torch.nn.Module, torch.optim.Optimizer] | None = None,
) -> None:
    """Write ``training_state.safetensors`` atomically.

    Args:
        rng_states: the training generator's state on each rank, rank 0 first.
        sums: each rank's running sums of the epoch so far, rank 0 first.
        scaler: the fp16 gradient scaler's state, when there is one.
        rng_device: the device type of the generators (a CUDA generator's state means nothing to a CPU one).
        critic: the objective's learned part and its optimizer, when it has one.
    """
    tensors, metadata = _module_tensors("model", "optim", model, optimizer)
    if critic is not None:
        critic_tensors, critic_metadata = _module_tensors(CRITIC, CRITIC_OPTIM, *critic)
        tensors.update(critic_tensors)
        metadata.update(critic_metadata)
    for rank, rank_sums in enumerate(sums):
        tensors.update({f"{_sums_prefix(rank)}{k}": v for k, v in rank_sums.items()})
    tensors.update({_rng_key(rank): state for rank, state in enumerate(rng_states)})
    metadata.update({"progress": json.dumps(asdict(progress)), "scaler": json.dumps(scaler or {}), "rng_device": rng_device})
    save_tensors(run_dir / STATE, tensors, metadata)


def _module_tensors(prefix: str, optim_prefix: str, module: torch.nn.Module, optimizer: torch.optim.Optimizer):
    """A module's weights and its optimizer's state as flat tensors, and the param groups as metadata."""
    opt = optimizer.state_dict()
    tensors = {f"{prefix}.{k}": v for k, v in module.state_dict().items()}
    for pid, state in opt["state"].items():
        tensors.update({f"{optim_prefix}.{pid}.{k}": torch.as_tensor(v) for k, v in state.items()})
    groups_key = "param_groups" if prefix == "model" else f"{prefix}_param_groups"
    return tensors, {groups_key: json.dumps(opt["param_groups"])}


def _load_module(
    prefix: str, optim_prefix: str, module: torch.nn.Module, optimizer: torch.optim.Optimizer, tensors: dict, metadata: dict
) -> None:
    """Restore what ``_module_tensors`` wrote, in place."""
    dot = len(prefix) + 1
    module.load_state_dict({k[dot:]: v for k, v in tensors.items() if k.startswith(prefix + ".")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(optim_prefix + "."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    groups_key = "param_groups" if prefix == "model" else f"{prefix}_param_groups"
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata[groups_key])})


def load_state(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: torch.device,
    rank: int = 0,
    critic: tuple[torch.nn.Module, torch.optim.Optimizer] | None = None,
) -> tuple[Progress, dict[str, torch.Tensor], dict[str, Any]]:
    """Restore model, optimizer, the critic (if any) and ``rank``'s RNG in place.

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
        _load_module("model", "optim", model, optimizer, tensors, metadata)
        has_critic = any(k.startswith(CRITIC + ".") for k in tensors)
        if has_critic != (critic is not None):
            raise ValueError("the state has a critic and the objective none" if has_critic else "the objective's critic is missing")
        if critic is not None:
            _load_module(CRITIC, CRITIC_OPTIM, *critic, tensors, metadata)
        generator.set_state(tensors[_rng_key(rank)])
        progress = Progress(**json.loads(metadata["progress"]))
        scaler = json.loads(metadata.get("scaler", "{}"))
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        reason = " ".join(line.strip() for line in str(e).strip().splitlines()[:2]) or type(e).__name__
        raise RunDirError(f"{path}: does not match this run's model or optimizer ({reason}); the file is damaged") from None
    prefix = _sums_prefix(rank)
    sums = {k[len(prefix) :]: v.to(device) for k, v in tensors.items() if k.startswith(prefix) and "." not in k[len(prefix) :]}
    return progress, sums, scaler
