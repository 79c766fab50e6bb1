"""Using a trained model: sample the prior, reconstruct; ``io`` is the only image writer."""

from vaekit.generation.codes import fit_code_prior, sample_codes, sample_vq
from vaekit.generation.io import grid, save_grid
from vaekit.generation.sample import interleave_rows, one_hot_labels, reconstruct, sample

__all__ = ["fit_code_prior", "grid", "interleave_rows", "one_hot_labels", "reconstruct", "sample", "sample_codes", "sample_vq", "save_grid"]
