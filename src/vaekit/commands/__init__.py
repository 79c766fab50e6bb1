"""What a user runs: each ``vaekit`` subcommand is one function here, and the CLI is generated from
its signature and docstring (``vaekit.cli``). Python users call the same functions and get the same
checks and errors."""

from vaekit.commands.benchmark import benchmark_run
from vaekit.commands.evaluate import evaluate_run
from vaekit.commands.explore import attribute_run, decode_run, encode_run, interpolate_run, latent_map_run, traverse_run
from vaekit.commands.export import export_run
from vaekit.commands.fit import SWITCHES, resume, train, train_or_resume
from vaekit.commands.generate import fit_sampler_run, reconstruct_run, sample_run
from vaekit.commands.report import report_run
from vaekit.commands.runconfig import RunConfig, preset_run_config, read_run_config

__all__ = [
    "SWITCHES",
    "RunConfig",
    "attribute_run",
    "benchmark_run",
    "decode_run",
    "encode_run",
    "evaluate_run",
    "export_run",
    "interpolate_run",
    "latent_map_run",
    "preset_run_config",
    "read_run_config",
    "reconstruct_run",
    "fit_sampler_run",
    "report_run",
    "resume",
    "sample_run",
    "train",
    "train_or_resume",
    "traverse_run",
]
