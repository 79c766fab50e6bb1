"""Using a trained model: sample the prior, reconstruct; ``io`` is the only image writer."""

from vaekit.generation.io import grid, save_grid
from vaekit.generation.sample import interleave_rows, one_hot_labels, reconstruct, sample

__all__ = ["grid", "interleave_rows", "one_hot_labels", "reconstruct", "sample", "save_grid"]
