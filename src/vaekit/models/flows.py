"""Normalizing flows for the posterior: planar and radial (Rezende & Mohamed 2015) and the inverse
autoregressive flow with MADE layers (Kingma et al. 2016; Germain et al. 2015).

Each step maps z (..., D) to (f(z), log |det df/dz|) with the log-determinant in closed form; a
``Flow`` chains steps. The flow's parameters are shared by all examples (not predicted by the
encoder per example, as in pythae's flows): the encoder's Gaussian moves and scales the base
sample, the flow bends it the same way everywhere.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaekit.distributions import DensityPrior

FLOWS = ("planar", "radial", "iaf")


class PlanarStep(nn.Module):
    """f(z) = z + u^ tanh(w.z + b) (Rezende & Mohamed 2015, eq. 10), with u^ the projection of u that
    keeps f invertible (their appendix A.1: w.u^ = -1 + softplus(w.u) > -1)."""

    def __init__(self, dim: int):
        super().__init__()
        self.u = nn.Parameter(0.01 * torch.randn(dim))  # (D,)
        self.w = nn.Parameter(0.01 * torch.randn(dim))  # (D,)
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        wu = self.w @ self.u
        u_hat = self.u + (F.softplus(wu) - 1 - wu) * self.w / (self.w @ self.w).clamp(min=1e-12)  # (D,)
        h = torch.tanh(z @ self.w + self.b)  # (...)
        # det(I + u^ psi^T) = 1 + psi.u^ with psi = (1 - h^2) w (their eq. 11-12); > 0 by the projection
        log_det = torch.log1p((1 - h**2) * (self.w @ u_hat))  # (...)
        return z + h.unsqueeze(-1) * u_hat, log_det  # (..., D), (...)


class RadialStep(nn.Module):
    """f(z) = z + β h(α, r) (z - z0), h = 1 / (α + r), r = |z - z0| (Rezende & Mohamed 2015, eq. 14),
    with α = softplus(α') > 0 and β = -α + softplus(β') >= -α for invertibility (appendix A.2)."""

    def __init__(self, dim: int):
        super().__init__()
        self.z0 = nn.Parameter(0.01 * torch.randn(dim))  # (D,)
        self.alpha_raw = nn.Parameter(0.01 * torch.randn(()))
        self.beta_raw = nn.Parameter(0.01 * torch.randn(()))  # near, not at, the identity: z0 gets a gradient from the start

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = F.softplus(self.alpha_raw)
        beta = -alpha + F.softplus(self.beta_raw)
        diff = z - self.z0  # (..., D)
        r = diff.norm(dim=-1)  # (...)
        h = 1 / (alpha + r)  # (...)
        # det = (1 + β h)^(D-1) (1 + β h + β h'(r) r), h'(r) = -1 / (α + r)^2 (their eq. 15)
        bh = beta * h  # (...)
        log_det = (z.shape[-1] - 1) * torch.log1p(bh) + torch.log1p(bh - beta * r * h**2)  # (...)
        return z + bh.unsqueeze(-1) * diff, log_det  # (..., D), (...)


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (MADE, Germain et al. 2015)."""

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask, persistent=False)  # (n_out, n_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(dim: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Masks of a D -> H -> H -> D MADE in the natural order: output d sees inputs 1..d-1 only."""
    d_in = torch.arange(1, dim + 1)  # (D,)
    d_hid = torch.arange(hidden) % max(1, dim - 1) + 1  # (H,) degrees 1..D-1
    first = (d_hid[:, None] >= d_in[None, :]).float()  # (H, D)
    middle = (d_hid[:, None] >= d_hid[None, :]).float()  # (H, H)
    last = (d_in[:, None] > d_hid[None, :]).float()  # (D, H)
    return first, middle, last


class IAFStep(nn.Module):
    """z' = σ ⊙ z + (1 - σ) ⊙ m with [m, s] = MADE(z), σ = sigmoid(s): the numerically stable IAF
    update of Kingma et al. (2016), Algorithm 1 / eq. 14; log |det| = sum log σ. ``reverse``
    runs the autoregressive order backwards (alternate steps, so every dimension gets to depend on
    every other)."""

    def __init__(self, dim: int, hidden: int, reverse: bool):
        super().__init__()
        first, middle, last = made_masks(dim, hidden)
        self.reverse = reverse
        self.body = nn.Sequential(MaskedLinear(dim, hidden, first), nn.ELU(), MaskedLinear(hidden, hidden, middle), nn.ELU())
        self.shift = MaskedLinear(hidden, dim, last)
        self.gate = MaskedLinear(hidden, dim, last)
        nn.init.constant_(self.gate.bias, 1.0)  # σ starts near sigmoid(1): close to the identity, as the paper advises

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = z.flip(-1) if self.reverse else z  # (..., D)
        h = self.body(z)  # (..., H)
        gate = self.gate(h)  # (..., D)
        sigma = torch.sigmoid(gate)  # (..., D)
        out = sigma * z + (1 - sigma) * self.shift(h)  # (..., D)
        log_det = F.logsigmoid(gate).sum(-1)  # (...)
        return (out.flip(-1) if self.reverse else out), log_det


class Flow(nn.Module):
    """A chain of flow steps: z0 (..., D) -> (z_T, sum_t log |det df_t/dz_{t-1}|)."""

    def __init__(self, kind: str, steps: int, dim: int):
        super().__init__()
        if kind == "planar":
            layers = [PlanarStep(dim) for _ in range(steps)]
        elif kind == "radial":
            layers = [RadialStep(dim) for _ in range(steps)]
        elif kind == "iaf":
            layers = [IAFStep(dim, max(4 * dim, 64), reverse=bool(t % 2)) for t in range(steps)]
        else:
            raise ValueError(f"unknown flow '{kind}'; choose one of: {', '.join(FLOWS)}")
        self.steps = nn.ModuleList(layers)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)  # (...)
        for step in self.steps:
            z, step_log_det = step(z)
            log_det = log_det + step_log_det
        return z, log_det


class MADE(nn.Module):
    """x (..., D) -> (m, alpha) (..., D) each, output d depending on x_1..x_{d-1} only (Germain et al. 2015)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        first, middle, last = made_masks(dim, hidden)
        self.body = nn.Sequential(MaskedLinear(dim, hidden, first), nn.ELU(), MaskedLinear(hidden, hidden, middle), nn.ELU())
        self.shift = MaskedLinear(hidden, dim, last)
        self.log_scale = MaskedLinear(hidden, dim, last)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)  # (..., H)
        alpha = 5.0 * torch.tanh(self.log_scale(h) / 5.0)  # (..., D): |alpha| < 5 keeps exp(alpha) finite
        return self.shift(h), alpha


class MAF(nn.Module):
    """A masked autoregressive flow density over vectors (Papamakarios et al. 2017): u = (z - m) exp(-alpha)
    layer by layer, the order reversed between layers, u ~ N(0, I) at the end.

    ``log_prob`` is one pass per layer; ``sample`` inverts each layer one dimension at a time (D
    passes). The data are first standardised by fixed ``shift``/``scale`` buffers (set by the
    fitting code), whose log-determinant is part of the density.
    """

    def __init__(self, dim: int, hidden: int = 128, layers: int = 5):
        super().__init__()
        self.dim = dim
        self.layers = nn.ModuleList([MADE(dim, hidden) for _ in range(layers)])
        self.register_buffer("shift", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def to_noise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (N, D) -> (u (N, D), log |det du/dz| (N,))."""
        h = (z - self.shift) / self.scale  # (N, D)
        log_det = -self.scale.log().sum().expand(z.shape[0])  # (N,)
        for k, layer in enumerate(self.layers):
            x = h.flip(-1) if k % 2 else h
            m, alpha = layer(x)  # (N, D) each
            u = (x - m) * torch.exp(-alpha)  # (N, D)
            log_det = log_det - alpha.sum(-1)
            h = u.flip(-1) if k % 2 else u
        return h, log_det

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = log N(u; 0, I) + log |det du/dz|: (..., D) -> (...)."""
        flat = z.reshape(-1, self.dim)  # (N, D)
        u, log_det = self.to_noise(flat)
        log_u = -0.5 * (math.log(2 * math.pi) + u**2).sum(-1)  # (N,)
        return (log_u + log_det).reshape(z.shape[:-1])

    def as_prior(self) -> DensityPrior:
        """This density as a prior-like object (``log_prob``, ``rsample``) for the sampling tools."""
        return DensityPrior(self.log_prob, self.sample, 1)

    @torch.no_grad()
    def sample(self, generator: torch.Generator | None, count: int, temperature: float = 1.0) -> torch.Tensor:
        """count samples (count, D): u ~ N(0, temperature^2 I) pushed back through every layer."""
        like = self.shift
        h = temperature * torch.randn(count, self.dim, generator=generator, dtype=like.dtype, device=like.device)  # (count, D)
        for k in reversed(range(len(self.layers))):
            u = h.flip(-1) if k % 2 else h
            x = torch.zeros_like(u)
            for d in range(self.dim):  # x_d needs x_<d: one pass per dimension
                m, alpha = self.layers[k](x)
                x[:, d] = u[:, d] * torch.exp(alpha[:, d]) + m[:, d]
            h = x.flip(-1) if k % 2 else x
        return h * self.scale + self.shift
