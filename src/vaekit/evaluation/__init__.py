"""Evaluating a trained model: likelihoods, posterior health, reconstruction, sample quality,
disentanglement. Loads runs through ``vaekit.run``; never imports training."""

from vaekit.evaluation.latent import ACTIVE_THRESHOLD, active_units, kl_per_dimension, mutual_information, perplexity
from vaekit.evaluation.likelihood import UNITS, Journal, Progress, Report, check_support, evaluate
from vaekit.evaluation.reconstruction import auroc, psnr, ssim

__all__ = [
    "ACTIVE_THRESHOLD",
    "Journal",
    "Progress",
    "UNITS",
    "Report",
    "active_units",
    "auroc",
    "check_support",
    "evaluate",
    "kl_per_dimension",
    "mutual_information",
    "perplexity",
    "psnr",
    "ssim",
]
