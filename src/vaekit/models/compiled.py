"""``--compile``: the model's networks compiled in place with ``torch.compile``.

What is compiled is each network (encoder, decoder, a hierarchy's cells and heads), not the model's
forward: the forward draws its noise from a ``torch.Generator``, which torch.compile would break the
graph on, and builds distribution objects. So the noise, the likelihood head and the loss stay eager,
and each network is one graph with no breaks (tests count them). ``nn.Module.compile`` compiles in
place, so parameter names, checkpoints and resume are those of the eager model.

On this 2-core CPU compiling gains 2-3 % in fp32 (and loses under bf16) for the seed MLP and the conv VAE, whose steps are matrix
products and convolutions already (bench/README.md); it is there for GPUs, where it fuses the
element-wise work around them. The first steps of each input shape pay the compilation (seconds to
tens of seconds).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import torch
from torch import nn

from vaekit.errors import first_line
from vaekit.models.networks import LikelihoodHead

# Objectives that differentiate a network's gradient (create_graph): torch.compile's autograd
# cannot run a double backward through a compiled graph.
DOUBLE_BACKWARD = {
    "contractive": "the contractive penalty differentiates the encoder's Jacobian",
}


@functools.cache
def unavailable() -> str | None:
    """Why torch.compile cannot run in this process (None when it can): a tiny function is compiled and run."""
    try:
        torch.compile(lambda a: a * 2.0 + 1.0, dynamic=False)(torch.ones(3))
    except Exception as e:  # noqa: BLE001 -- any failure (no C++ compiler, unsupported Python) means: run eager
        return f"torch.compile does not work here ({first_line(e)})"
    return None


def networks(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """The model's networks: each child module with parameters, the items of a ModuleList, no likelihood head."""
    for name, child in model.named_children():
        if isinstance(child, LikelihoodHead) or not any(True for _ in child.parameters()):
            continue
        if isinstance(child, nn.ModuleList):
            yield from ((f"{name}.{i}", item) for i, item in enumerate(child) if any(True for _ in item.parameters()))
        else:
            yield name, child


def eager_reason(objective: str, gradient_penalty: float = 0.0) -> str | None:
    """Why a run with this objective must train eager (None when it can be compiled)."""
    if objective in DOUBLE_BACKWARD:
        return DOUBLE_BACKWARD[objective]
    if objective == "rae" and gradient_penalty > 0:
        return "the RAE gradient penalty differentiates the decoder's Jacobian"
    return unavailable()


def compile_networks(model: nn.Module, why_not: str | None = None) -> tuple[bool, str]:
    """Compile ``model``'s networks in place, unless ``why_not`` (or torch.compile cannot run here).

    Returns:
        Whether they were compiled, and the one-line note that says what was done.
    """
    why_not = why_not or unavailable()
    if why_not:
        return False, f"--compile: {why_not}, so this runs eager"
    names = []
    for name, net in networks(model):
        net.compile()
        names.append(name)
    return True, f"--compile: {', '.join(names)} compiled with torch.compile (the first steps of each batch shape include compiling)"
