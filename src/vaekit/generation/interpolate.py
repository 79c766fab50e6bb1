"""Paths through latent space: linear and spherical interpolation, extended past both ends."""

from __future__ import annotations

import math

import torch

from vaekit.errors import ConfigError, lookup
from vaekit.generation.draw import need_conditions
from vaekit.models import LatentModel
from vaekit.runtime.checks import at_least, in_range


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """a + t (b - a) for each t: a, b (D,), t (N,) -> (N, D). t outside [0, 1] extrapolates."""
    return a + t[:, None] * (b - a)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for VAE latents): a, b (D,), t (N,) -> (N, D).

    sin((1 - t) w) / sin w * a + sin(t w) / sin w * b with w the angle between a and b. Between
    endpoints of equal norm every point keeps that norm, so the path stays where the N(0, I) prior
    puts its mass instead of cutting through the low-density centre. Falls back to lerp when a
    and b are (nearly) parallel.
    """
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4 or (math.pi - omega).abs() < 1e-4:
        return lerp(a, b, t)
    s = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / s)[:, None] * a + (torch.sin(t * omega) / s)[:, None] * b


METHODS = {"lerp": lerp, "slerp": slerp}
MAX_POINTS = 10_000  # a strip of more decoded images than this is not a picture anyone can look at


def path_times(steps: int, extrapolate: float = 0.0) -> torch.Tensor:
    """t values: ``steps`` from 0 to 1, plus the same spacing continued ``extrapolate`` x the way
    past both ends (F = 0.5 with 9 steps adds 4 before 0 and 4 after 1), (N,)."""
    at_least("steps", steps, 2)
    in_range("extrapolate", extrapolate, 0)
    spacing = 1.0 / (steps - 1)
    extra = round(extrapolate * (steps - 1))
    if steps + 2 * extra > MAX_POINTS:
        raise ConfigError(
            f"--steps {steps} with --extrapolate {extrapolate:g} makes {steps + 2 * extra:,} points; "
            f"at most {MAX_POINTS:,} fit in one strip"
        )
    return torch.arange(-extra, steps + extra, dtype=torch.float32) * spacing


@torch.no_grad()
def interpolate(
    model: LatentModel,
    xa: torch.Tensor,
    xb: torch.Tensor,
    steps: int = 9,
    method: str = "lerp",
    extrapolate: float = 0.0,
    generator: torch.Generator | None = None,
    conditions: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Decoded points on the path between the posterior means of xa and xb (1, C, H, W) each.

    A conditional model (cvae) needs ``conditions``, the ends' (1, Y) each: each end is encoded with
    its own, and the decoder's condition moves linearly from one to the other along the path (held at
    the end's past either end, where only the code extrapolates). With equal conditions the path
    changes the style alone; with two classes it morphs one into the other.

    Returns:
        (N, C, H, W): the mean of p(x|z) along the path, N = steps + 2 * round(extrapolate * (steps - 1)).
    """
    path = lookup(METHODS, method, "--method")
    t = path_times(steps, extrapolate)  # (N,)
    ya, yb = need_conditions(model, conditions or (None, None), 1)
    za, zb = model.encode(xa, ya).mode()[0], model.encode(xb, yb).mode()[0]  # (D,)
    t = t.to(za.device)
    z = path(za, zb, t)  # (N, D)
    y = None if ya is None else lerp(ya[0], yb[0], t.clamp(0.0, 1.0))  # (N, Y)
    return model.decode(z, y).mean
