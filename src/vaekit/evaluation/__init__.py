"""Evaluating a trained model. Loads runs through ``vaekit.rundir``; never imports training."""

from vaekit.evaluation.latent import ACTIVE_THRESHOLD, active_units, kl_per_dimension, mutual_information, perplexity
from vaekit.evaluation.reconstruction import auroc, psnr, ssim
from vaekit.evaluation.likelihood import Report, evaluate

__all__ = ["ACTIVE_THRESHOLD", "Report", "active_units", "auroc", "evaluate", "kl_per_dimension", "mutual_information", "perplexity", "psnr", "ssim"]
