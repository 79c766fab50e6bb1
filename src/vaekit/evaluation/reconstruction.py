"""Reconstruction quality of images in [0, 1]: PSNR and SSIM (Wang et al. 2004), and the AUROC of
out-of-distribution scores.

PSNR is its one-line definition, 10 log10(1 / MSE). SSIM comes from pytorch-msssim, whose
separable window is Wang et al.'s (it agrees with the 2-D convolution vaekit used before to 2e-7);
torchmetrics' SSIM pads the borders, which moves small images' scores by up to 0.04, so it is not
used. The AUROC is scikit-learn's.
"""

from __future__ import annotations

import torch
from pytorch_msssim import ssim as msssim_ssim

SSIM_K1, SSIM_K2 = 0.01, 0.03  # Wang et al.'s constants: C1 = (K1 L)^2, C2 = (K2 L)^2 with data range L = 1


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of each image pair, (B,); data range 1, capped at 100 dB."""
    mse = (x - y).pow(2).flatten(1).mean(1).clamp(min=1e-10)  # (B,)
    return 10.0 * torch.log10(1.0 / mse)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean structural similarity of each image pair (B, C, H, W) -> (B,), by pytorch-msssim.

    Wang et al. (2004): an 11x11 Gaussian window (sigma 1.5) over the valid region, K1 = 0.01,
    K2 = 0.03, data range 1. Images smaller than 11 pixels use the largest odd window that fits.
    """
    size = min(11, x.shape[2], x.shape[3])
    size -= 1 - size % 2  # odd
    return msssim_ssim(x, y, data_range=1.0, size_average=False, win_size=size, win_sigma=1.5, K=(SSIM_K1, SSIM_K2))


def auroc(inliers: torch.Tensor, outliers: torch.Tensor) -> float:
    """Area under the ROC curve of scores where outliers should score higher (ties count half), by
    scikit-learn: 1 when every outlier scores above every inlier, 0.5 when the scores do not tell
    them apart (the Mann-Whitney U statistic over the number of pairs)."""
    from sklearn.metrics import roc_auc_score

    scores = torch.cat([inliers, outliers]).double().cpu().numpy()
    is_outlier = [0] * len(inliers) + [1] * len(outliers)
    return float(roc_auc_score(is_outlier, scores))


__all__ = ["auroc", "psnr", "ssim"]
