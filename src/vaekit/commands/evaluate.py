"""``vaekit evaluate``: the metrics of a run's model on one split, with optional OOD AUROC, sample
quality and disentanglement scores."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import tyro

from vaekit import run
from vaekit.commands.journal import RunJournal, evaluation_key, split_key, stops_keep_progress
from vaekit.commands.runconfig import read_run_config
from vaekit.data import DatasetSplits, InMemoryDataset
from vaekit.data.sources import cache_dir
from vaekit.distributions import Prior
from vaekit.errors import ConfigError, VaekitWarning, lookup
from vaekit.evaluation import Report, evaluate
from vaekit.evaluation.disentanglement import disentanglement_scores
from vaekit.evaluation.edits import code_accuracy, edit_score, linear_readout
from vaekit.evaluation.fidelity import feature_extractor, sample_quality
from vaekit.generation import (
    attribute_vector,
    conditional_vector,
    fit_code_prior,
    posterior_means,
    sample,
    sample_conditions,
)
from vaekit.models import LatentModel
from vaekit.models.code_prior import CodeTransformer
from vaekit.models.compiled import compile_networks
from vaekit.models.memory import require_fits, rows_that_fit
from vaekit.objectives import ObjectiveConfig
from vaekit.runtime import distributed
from vaekit.runtime.checks import at_least, integer
from vaekit.training import resolve_device

Split = Literal["test", "valid", "train"]
Weights = Literal["best", "last"]
Device = Literal["auto", "cpu", "cuda", "mps"]
FID_CHUNK = 500
MAX_ROWS = 4096  # latents the decoder takes at once in the importance-weighted bound, where memory allows


def evaluate_run(
    run_dir: tyro.conf.Positional[Path],
    split: Split = "test",
    iw_samples: int = 1000,
    limit: int | None = None,
    seed: int = 0,
    data_dir: Path | None = None,
    weights: Weights = "best",
    device: Device = "auto",
    ood_data: str | None = None,
    fid: bool = False,
    fid_samples: int = 10_000,
    disentanglement: bool = False,
    edits: bool = False,
    edit_vectors: Literal["mean", "conditional"] = "mean",
    sampler: Literal["prior", "gmm", "flow", "two-stage", "autoregressive"] = "prior",
    compile: bool = False,  # noqa: A002 -- the --compile flag's name
) -> Report:
    """Report ELBO, reconstruction, KL, importance-weighted log p(x), bits/dim and active units.

    A long evaluation (K = 5000 on a CPU takes hours) keeps its progress in RUN/partial/ every minute
    and on Ctrl-C; the same command goes on from there with the same numbers (delete RUN/partial to
    start over).

    Args:
        run_dir: A run directory written by `vaekit train`.
        split: Which split to evaluate.
        iw_samples: K, importance samples per example for log p(x) (Burda et al. 2016). A long evaluation keeps its progress
            in RUN/partial/ every minute and on Ctrl-C: the same command goes on from there, with the same numbers.
        limit: Evaluate only the first N examples of the split (default: all of them).
        seed: Seed of the posterior samples.
        data_dir: Look for the run's dataset here first.
        weights: best (best validation loss) or last.
        device: Where to evaluate.
        ood_data: Also report ood_auroc: how well the per-example -ELBO tells this dataset's test split (outliers) from the run's.
        fid: Also report frechet_distance, precision and recall of samples against the split, in the features of a classifier
            vaekit trains on the dataset's training split and caches (not Inception FID: no pretrained weights offline).
        fid_samples: With --fid: samples drawn, and examples of the split compared with them (at most the split's size).
        disentanglement: Also report MIG, DCI, SAP, FactorVAE and β-VAE scores against the data's known factors (--data shapes).
        edits: Also report how well attribute vectors edit the split's examples (edit_success, edit_preservation,
            edit_distance), judged by an attribute classifier vaekit trains on the training images and caches (data with
            attributes: faces, fonts, folder --attributes).
        edit_vectors: With --edits: each attribute's mean code difference, or its conditional vector, which holds the linear
            read-outs of the other attributes fixed (InterFaceGAN's conditional manipulation).
        sampler: With --fid: draw the samples' codes from the prior, or from a density fitted by `vaekit fit-sampler`.
        compile: Compile the model's networks with torch.compile (the importance-sampling decoder loop runs compiled);
            where it cannot run, a warning says why and evaluation runs eager.
    """
    at_least("iw_samples", iw_samples, 1)
    if limit is not None:
        at_least("limit", limit, 1)
    at_least("fid_samples", fid_samples, 2)
    integer("seed", seed)
    dev = distributed.setup(resolve_device(device))  # under torchrun the split's batches are spread over the processes
    config = run.model_config(run_dir)
    rows = rows_that_fit(config, MAX_ROWS, dev)  # a 256x256 decoder cannot take 4096 latents at a time in 24 GB
    require_fits(config, rows, training=False, device=dev, what=f"evaluating this run's model ({rows} latent(s) at a time)")
    model = run.load(run_dir, weights=weights, device=dev)
    if compile:
        compiled, note = compile_networks(model)
        if not compiled:
            warnings.warn(note, VaekitWarning, stacklevel=2)
    lookup({s: s for s in run.SPLITS}, split, "--split")
    splits = run.load_splits(run_dir, data_dir)  # once: --fid and --edits read the training split too
    data = splits.split(split)
    data = (data.head(limit) if limit else data).to(dev)
    outliers = None if ood_data is None else run.load_split(run_dir, "test", data_dir, limit, dev, name=ood_data)
    generator = torch.Generator(device=dev).manual_seed(distributed.rank_seed(seed))
    batch = min(100, rows)
    journal = None
    if not distributed.current().active:  # a long evaluation keeps its progress in RUN/partial/ (commands/journal.py)
        given = {"split": split, "limit": limit, "iw_samples": iw_samples, "seed": seed, "batch": batch, "max_rows": rows}
        outlier_key = split_key(outliers) if outliers is not None else None
        journal = RunJournal(run_dir, evaluation_key(model, data, **given, device=dev.type, compile=compile, outliers=outlier_key))
    with stops_keep_progress():
        report = evaluate(model, data, split, iw_samples, generator, batch_size=batch, max_rows=rows, outliers=outliers, journal=journal)
    objective = read_run_config(run_dir).objective
    if objective.reconstruction != "likelihood" or objective.adversarial != "none":  # honest about what the numbers are not
        report = replace(report, trained_on=trained_on(objective, model.has_prior and not model.deterministic))
    if not distributed.current().is_main:
        return report  # sample quality and disentanglement are computed by rank 0 alone
    if sampler != "prior" and not fid:
        raise ConfigError(f"--sampler {sampler} says which codes --fid samples; add --fid, or drop --sampler")
    if fid:
        fitted = None if sampler == "prior" else run.load_sampler(run_dir, sampler, model.latent_dim)
        report = replace(report, **_sample_quality(splits, model, data, fid_samples, seed, dev, fitted))
    if disentanglement:
        report = replace(report, **_disentanglement(run_dir, model, data, seed))
    if edit_vectors != "mean" and not edits:
        raise ConfigError(f"--edit-vectors {edit_vectors} says which vectors --edits applies; add --edits, or drop --edit-vectors")
    if edits:
        report = replace(report, **_edits(splits, model, data, dev, edit_vectors == "conditional"))
    if journal is not None:
        journal.discard()  # only now: a failure in --fid or --edits keeps the likelihood pass for the next try
    return report


def trained_on(objective: ObjectiveConfig, kl: bool) -> str:
    """What the loss was, for a run not trained on its likelihood alone: 'ms-ssim (mix 0.5) + KL +
    adversarial (patch, weight 0.5), not the likelihood' (``kl``: the family has a KL term)."""
    terms = [f"{objective.reconstruction} (mix {objective.ms_ssim_mix:g})" if objective.reconstruction != "likelihood" else "likelihood"]
    terms += ["KL"] if kl else []
    if objective.adversarial != "none":
        terms.append(f"adversarial ({objective.adversarial}, weight {objective.adversarial_weight:g})")
    return " + ".join(terms) + (", not the likelihood" if objective.reconstruction != "likelihood" else ", not the ELBO alone")


def _decoded(model: LatentModel, z: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
    """The means of p(x|z) for latents (N, D), decoded ``chunk`` at a time, (N, C, H, W)."""
    with torch.no_grad():
        return torch.cat([model.decode(z[s : s + chunk]).mean for s in range(0, len(z), chunk)])


def _edits(splits: DatasetSplits, model: LatentModel, test: InMemoryDataset, device: torch.device, conditional: bool = False) -> dict:
    """Each attribute's vector (from the training split, as ``vaekit attribute`` builds it; ``conditional``:
    with the other attributes' read-outs held) added to the examples of ``test`` that lack the
    attribute and taken from those that have it, at strengths 1 and 2, scored by the attribute judge
    (``evaluation.edits``)."""
    if model.conditioning is not None:
        raise ConfigError("--edits edits unconditional models; this run is conditional (cvae)")
    splits = splits.to(device)
    if test.attributes is None or splits.attribute_names is None:
        raise ConfigError(f"--edits needs data with binary attributes (faces, fonts, folder:PATH --attributes); '{splits.name}' has none")
    held = len(splits.attribute_names) - 1
    if conditional and held >= model.latent_dim:
        raise ConfigError(
            f"--edit-vectors conditional holds the other {held} attributes' read-outs fixed, which leaves nothing to edit with "
            f"this model's {model.latent_dim} latents; it needs more latents than that, or use --edit-vectors mean"
        )
    judge = feature_extractor(splits.name, splits.train, splits.valid if len(splits.valid) else test, cache_dir(), task="attributes")
    truth = test.attributes.bool().cpu()  # (N, A)
    real = judge.predict(test.batch(slice(None)))
    means, codes = posterior_means(model, splits.train), posterior_means(model, test)  # (N_train, D), (N, D)
    unedited = _decoded(model, codes)
    before = judge.predict(unedited)
    per_attribute, success, kept, distance = {}, [], [], []
    readouts = linear_readout(means, splits.train.attributes.bool())[0]  # (A, D)
    for a, name in enumerate(splits.attribute_names):
        row = {"judge_accuracy": float((real[:, a] == truth[:, a]).double().mean())}
        present = splits.train.attributes[:, a] == 1
        if present.all() or not present.any():  # no vector without examples on both sides: nothing to score
            per_attribute[name] = row | {"examples": 0}
            continue
        vector = attribute_vector(means, present)  # (D,)
        if conditional:
            vector = conditional_vector(vector, torch.cat([readouts[:a], readouts[a + 1 :]]).to(vector.device))  # (D,)
        row["code_accuracy"] = code_accuracy(means, present, codes, truth[:, a])  # do the codes carry it at all?
        sign = torch.where(truth[:, a], -1.0, 1.0).to(codes.device)[:, None]  # add it where it is missing
        for strength in (1, 2):
            edited = _decoded(model, codes + strength * sign * vector)
            score = edit_score(before, judge.predict(edited), ~truth[:, a], a, unedited.cpu(), edited.cpu())
            values = {"success": score.success, "preservation": score.preservation, "distance": score.distance}
            row |= {f"{k}_{strength}": None if math.isnan(v) else v for k, v in values.items()} | {"examples": score.examples}
            others = {n: f for n, f in zip(splits.attribute_names, score.flipped, strict=True) if n != name and f > 0}
            row[f"others_flipped_{strength}"] = {n: round(f, 4) for n, f in sorted(others.items(), key=lambda kv: -kv[1])}
        per_attribute[name] = row
        success.append(row["success_2"]), kept.append(row["preservation_2"]), distance.append(row["distance_2"])

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return float(np.mean(known)) if known else None

    return {
        "edit_success": mean(success),
        "edit_preservation": mean(kept),
        "edit_distance": mean(distance),
        "edit_judge_accuracy": float((real == truth).double().mean()),
        "edits": per_attribute,
        "edit_vectors": "conditional" if conditional else "mean",
    }


def _disentanglement(run_dir: Path, model: LatentModel, data: InMemoryDataset, seed: int) -> dict[str, float]:
    """MIG, DCI, SAP, FactorVAE and β-VAE scores of the posterior means against the data's factors."""
    if model.conditioning is not None:
        raise ConfigError("--disentanglement scores unconditional models; this run is conditional (cvae)")
    if data.factors is None:
        name = run.data_config(run_dir).name
        raise ConfigError(f"--disentanglement needs data with known generative factors; '{name}' has none (train on --data shapes)")
    codes = posterior_means(model, data).double().cpu().numpy()  # (N, D)
    return disentanglement_scores(codes, data.factors.cpu().numpy(), seed)


def _sample_quality(
    splits: DatasetSplits,
    model: LatentModel,
    real: InMemoryDataset,
    n: int,
    seed: int,
    device: torch.device,
    sampler: Prior | CodeTransformer | None = None,
) -> dict[str, float]:
    """frechet_distance / precision / recall of n samples (of the prior, or of a fitted ``sampler``)
    against n examples of ``real``; {} for models that cannot sample (autoencoders without a sampler)."""
    if not model.has_prior and not model.codebook_size and sampler is None:
        return {}
    splits = splits.to(device)
    train, valid = splits.train, splits.valid
    extractor = feature_extractor(splits.name, train, valid if len(valid) else real, cache_dir())
    generator = torch.Generator(device=device).manual_seed(seed)
    n = min(n, len(real))
    x_real = real.batch(slice(0, n), generator)  # (n, C, H, W)
    code_prior = (sampler if sampler is not None else fit_code_prior(model, train)) if model.codebook_size else None
    sampler = None if model.codebook_size else sampler  # a VQ-VAE's fitted sampler is its code prior
    condition = None if code_prior is not None or sampler is not None else sample_conditions(model, n, examples=train)  # (n, Y) or None
    fake = sample(model, n, generator, condition=condition, code_prior=code_prior, chunk=FID_CHUNK, sampler=sampler)  # (n, C, H, W)
    if bool(((x_real == 0) | (x_real == 1)).all()):  # binary data: compare binary draws from p(x|z), not grey means
        fake = torch.bernoulli(fake.clamp(0, 1), generator=generator)
    q = sample_quality(extractor, x_real, fake)
    return {
        "frechet_distance": q.frechet_distance,
        "precision": q.precision,
        "recall": q.recall,
        "fid_classifier_accuracy": q.feature_accuracy,
    }
