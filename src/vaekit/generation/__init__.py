"""Using a trained model: sample it (``draw``), encode splits (``encode``), reconstruct, interpolate,
traverse, edit along attribute vectors, map the latent space; ``io`` is the only image writer."""

from vaekit.generation.attributes import apply_attribute, attribute_vector, conditional_vector, select
from vaekit.generation.codes import fit_code_prior, sample_codes
from vaekit.generation.draw import (
    condition_noun,
    interleave_rows,
    label_condition,
    need_conditions,
    one_hot_labels,
    recondition,
    reconstruct,
    sample,
    sample_conditions,
    sample_latents,
)
from vaekit.generation.encode import Codes, encode_split, posterior_means
from vaekit.generation.interpolate import interpolate, lerp, path_times, slerp
from vaekit.generation.io import check_output, figure_png, grid, png_bytes, save_arrays, save_figure, save_grid, save_npy, save_text
from vaekit.generation.latent_map import embed_2d, latent_map_figure, manifold
from vaekit.generation.samplers import SAMPLERS, FittedSampler, fit_sampler
from vaekit.generation.traverse import kl_order, traverse

__all__ = [
    "SAMPLERS",
    "FittedSampler",
    "fit_sampler",
    "Codes",
    "apply_attribute",
    "attribute_vector",
    "condition_noun",
    "conditional_vector",
    "check_output",
    "embed_2d",
    "encode_split",
    "figure_png",
    "fit_code_prior",
    "grid",
    "interleave_rows",
    "interpolate",
    "kl_order",
    "latent_map_figure",
    "label_condition",
    "lerp",
    "manifold",
    "need_conditions",
    "one_hot_labels",
    "path_times",
    "png_bytes",
    "posterior_means",
    "recondition",
    "reconstruct",
    "sample",
    "sample_codes",
    "sample_conditions",
    "sample_latents",
    "save_arrays",
    "save_figure",
    "save_grid",
    "save_npy",
    "save_text",
    "select",
    "slerp",
    "traverse",
]
