"""Using a trained model: sample the prior, reconstruct; ``io`` is the only image writer."""

from vaekit.generation.codes import fit_code_prior, sample_codes, sample_vq
from vaekit.generation.attributes import apply_attribute, attribute_vector, posterior_means, select
from vaekit.generation.interpolate import interpolate, lerp, path_times, slerp
from vaekit.generation.io import figure_png, grid, png_bytes, save_arrays, save_figure, save_grid, save_npy, save_text
from vaekit.generation.latent_map import embed_2d, latent_map_figure, manifold
from vaekit.generation.traverse import kl_order, traverse
from vaekit.generation.sample import interleave_rows, one_hot_labels, reconstruct, sample

__all__ = [
    "apply_attribute",
    "attribute_vector",
    "embed_2d",
    "figure_png",
    "fit_code_prior",
    "grid",
    "interleave_rows",
    "interpolate",
    "kl_order",
    "latent_map_figure",
    "lerp",
    "manifold",
    "one_hot_labels",
    "path_times",
    "png_bytes",
    "posterior_means",
    "reconstruct",
    "sample",
    "sample_codes",
    "sample_vq",
    "save_arrays",
    "save_figure",
    "save_grid",
    "save_npy",
    "save_text",
    "select",
    "slerp",
    "traverse",
]
