"""Objectives of the regularised autoencoders: reconstruction plus a penalty on the code."""

from __future__ import annotations

import torch

from vaekit.objectives.config import ObjectiveConfig
from vaekit.objectives.elbo import reconstruction_nll
from vaekit.types import LossTerms, ModelOutput, Step

EPS = 1e-6


def l1_activity(z: torch.Tensor) -> torch.Tensor:
    """sum_j |z_j| of each code, (B,) (an L1 activity penalty)."""
    return z.abs().sum(-1)


def kl_sparsity(z: torch.Tensor, target: float) -> torch.Tensor:
    """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)) with rho_hat_j the batch-mean activation.

    Ng's sparse autoencoder penalty; codes must lie in (0, 1) (a sigmoid code). The penalty is one
    number for the batch, returned as (B,) copies so the trainer's batch mean is that number.
    """
    rho_hat = z.mean(0).clamp(EPS, 1 - EPS)  # (D,)
    rho = target
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))  # (D,)
    return kl.sum().expand(z.shape[0])  # (B,)


def sparse_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """Reconstruction + ``sparsity_weight`` x (L1 activity, or KL sparsity towards ``sparsity_target``)."""
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    z = output.z  # (B, D)
    penalty = l1_activity(z) if config.sparsity == "l1" else kl_sparsity(z, config.sparsity_target)  # (B,)
    return LossTerms(loss=rec + config.sparsity_weight * penalty, reconstruction=rec, penalty=penalty)


def jacobian_frobenius_sq(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """||dz/dx||_F^2 of each example, (B,): one vector-Jacobian product per latent dimension.

    z (B, D) must be computed from x (B, ...) example by example (no batch mixing), so the gradient
    of sum_b z_bj with respect to x holds each example's row j of its Jacobian. The graph is kept
    (create_graph) so the penalty itself can be minimised.
    """
    total = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
    for j in range(z.shape[-1]):
        (row,) = torch.autograd.grad(z[:, j].sum(), x, create_graph=True)  # (B, C, H, W)
        total = total + row.flatten(1).pow(2).sum(-1)
    return total


def contractive_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """Reconstruction + ``contractive_weight`` ||J_enc(x)||_F^2 (Rifai et al. 2011).

    The Jacobian needs gradients: without them (validation under no_grad) only the reconstruction
    is counted, so validation loss is the reconstruction NLL.
    """
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    if output.encoder_input is None:
        return LossTerms(loss=rec, reconstruction=rec)
    penalty = jacobian_frobenius_sq(output.z, output.encoder_input)  # (B,)
    return LossTerms(loss=rec + config.contractive_weight * penalty, reconstruction=rec, penalty=penalty)


def vq_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """VQ-VAE: reconstruction + commitment x ||z_e - sg(z_q)||^2 (van den Oord et al. 2017, eq. 3,
    with the codebook term replaced by the EMA update). ``penalty`` reports the commitment term."""
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    if output.quantized is None:
        raise TypeError("the vq objective needs a VQ-VAE's output")
    commitment = output.quantized.commitment  # (B,)
    return LossTerms(loss=rec + config.commitment * commitment, reconstruction=rec, penalty=commitment)


def decoder_jacobian_sq(mean: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """||dD(z)/dz||_F^2 of each example, (B,), for a decoder output ``mean`` (B, ...) made from z (B, D).

    The Jacobian is tall (many pixels, few latents), so its D columns are Jacobian-vector products,
    each from the double-backward trick: g(u) = u^T J is linear in u, so d(g . e_j)/du = J e_j.
    D + 1 backward passes; the graph is kept so the penalty itself can be minimised.
    """
    u = torch.zeros_like(mean, requires_grad=True)  # (B, ...)
    (g,) = torch.autograd.grad(mean, z, grad_outputs=u, create_graph=True)  # (B, D) = u^T J
    total = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
    for j in range(z.shape[-1]):
        (column,) = torch.autograd.grad(g[:, j].sum(), u, create_graph=True)  # (B, ...) = J e_j
        total = total + column.flatten(1).pow(2).sum(-1)
    return total


def rae_loss(output: ModelOutput, x: torch.Tensor, config: ObjectiveConfig, step: Step | None = None) -> LossTerms:
    """RAE (Ghosh et al. 2020, eq. 11): reconstruction + (β/2)|z|^2 + the RAE-GP term
    ``gradient_penalty`` x |dD(z)/dz|_F^2 (when on and gradients are; the RAE-L2 term is the
    decoder's weight decay, outside the loss). ``penalty`` reports (1/2)|z|^2."""
    rec = reconstruction_nll(output.likelihood, x)  # (B,)
    code = 0.5 * output.z.pow(2).sum(-1)  # (B,)
    loss = rec + config.code_weight * code
    if config.gradient_penalty > 0 and output.z.requires_grad:
        loss = loss + config.gradient_penalty * decoder_jacobian_sq(output.likelihood.mean, output.z)
    return LossTerms(loss=loss, reconstruction=rec, penalty=code)
