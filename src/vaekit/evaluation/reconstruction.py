"""Reconstruction quality of images in [0, 1]: PSNR and SSIM (Wang et al. 2004)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # (K1 L)^2, (K2 L)^2 with data range L = 1


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of each image pair, (B,); data range 1, capped at 100 dB."""
    mse = (x - y).pow(2).flatten(1).mean(1).clamp(min=1e-10)  # (B,)
    return 10.0 * torch.log10(1.0 / mse)


def _gaussian_window(size: int, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]  # (size, size)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean structural similarity of each image pair (B, C, H, W) -> (B,).

    An 11x11 Gaussian window (sigma 1.5) over the valid region, as Wang et al.; images smaller than
    11 pixels use the largest odd window that fits.
    """
    c = x.shape[1]
    size = min(11, x.shape[2], x.shape[3])
    size -= 1 - size % 2  # odd
    w = _gaussian_window(size).to(x)[None, None].expand(c, 1, size, size)  # (C, 1, s, s)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=c)  # (B, C, H', W')

    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / ((mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2))
    return ssim_map.flatten(1).mean(1)


def auroc(inliers: torch.Tensor, outliers: torch.Tensor) -> float:
    """Area under the ROC curve of scores where outliers should score higher (ties count half).

    The Mann-Whitney U statistic divided by the number of pairs: 1 when every outlier scores above
    every inlier, 0.5 when the scores do not tell them apart.
    """
    scores = torch.cat([inliers, outliers]).double()
    ranks = torch.empty_like(scores)
    order = torch.argsort(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    for value in torch.unique(scores):  # average ranks over ties
        tie = scores == value
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    n_in, n_out = len(inliers), len(outliers)
    u = ranks[n_in:].sum() - n_out * (n_out + 1) / 2
    return float(u / (n_in * n_out))


__all__ = ["auroc", "psnr", "ssim"]
