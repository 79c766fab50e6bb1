"""How well an attribute edit works, judged by a classifier of the attributes (``vaekit evaluate --edits``).

An edit adds an attribute vector to the code of an example that lacks the attribute (or subtracts
it from one that has it) and decodes. A classifier trained on the real training images (the
*judge*, ``fidelity.feature_extractor(task="attributes")``) then says which attributes it sees in the
decoded image and in the reconstruction of the unedited input. Only examples whose reconstruction
the judge reads as the truth (lacking what the edit adds, or having what it removes) are scored:

- ``success``: the fraction whose edited image the judge reads with the attribute flipped the
  intended way (0 when nothing changes);
- ``preservation``: the fraction whose *other* attributes the judge reads as on the unedited
  reconstruction;
- ``distance``: the mean squared pixel difference between edited image and unedited reconstruction;
- ``flipped``: for each attribute, the fraction whose judged value the edit changed (the edited
  attribute's own entry is its success), so a preservation below 1 says which attributes the
  vector also carries.

Beside them, ``code_accuracy`` asks whether the codes carry the attribute at all: the test accuracy
of a linear read-out of the posterior means, fitted on the training split. An edit that fails on
codes that tell the attribute apart is the vector's fault (or the decoder's); one that fails on codes
near chance (a 256x256 VAE whose 32 latents hold the hair and the skin but not the few pixels of a
mouth) cannot be mended by any vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vaekit.errors import ConfigError


@dataclass(frozen=True)
class EditScore:
    """One attribute's edit at one strength."""

    success: float
    preservation: float
    distance: float
    examples: int  # the examples scored
    flipped: tuple[float, ...] = ()  # per attribute, the fraction of the scored examples whose judged value changed


def edit_score(
    before: torch.Tensor, after: torch.Tensor, target: torch.Tensor, attribute: int, unedited: torch.Tensor, edited: torch.Tensor
) -> EditScore:
    """Score one edit.

    Args:
        before: the judge's attributes of the unedited reconstructions, (N, A) bool.
        after: the judge's attributes of the edited images, (N, A) bool.
        target: the value the edit should give ``attribute``, (N,) bool (the opposite of the truth).
        attribute: the column of the edited attribute.
        unedited, edited: the images, (N, C, H, W) in [0, 1].
    """
    if not before.shape == after.shape or before.dim() != 2 or not 0 <= attribute < before.shape[1] or target.shape != before.shape[:1]:
        raise ConfigError(
            f"edit_score needs (N, A) judgements and (N,) targets, got {tuple(before.shape)}, {tuple(after.shape)}, "
            f"{tuple(target.shape)} for attribute {attribute}"
        )
    scored = before[:, attribute] != target  # the judge agrees the input is as the truth says
    n = int(scored.sum())
    if n == 0:
        return EditScore(math.nan, math.nan, math.nan, 0, (math.nan,) * before.shape[1])
    others = torch.ones(before.shape[1], dtype=torch.bool)
    others[attribute] = False
    success = (after[scored, attribute] == target[scored]).double().mean()
    kept = (after[scored][:, others] == before[scored][:, others]).all(1).double().mean()
    distance = (edited[scored] - unedited[scored]).pow(2).flatten(1).mean(1).double().mean()
    flipped = (after[scored] != before[scored]).double().mean(0)  # (A,)
    return EditScore(float(success), float(kept), float(distance), n, tuple(float(f) for f in flipped))


def linear_readout(codes: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares read-outs of binary attributes from codes: ``codes @ weights.T + bias > 0`` where
    an attribute is present.

    Args:
        codes: posterior means, (N, D).
        truth: the attributes, (N, A) bool (or (N,) for one).

    Returns:
        weights (A, D) and bias (A,) in float64 ((D,) and () for one attribute).
    """
    single = truth.dim() == 1
    truth = truth[:, None] if single else truth  # (N, A)
    if codes.dim() != 2 or truth.dim() != 2 or len(truth) != len(codes):
        raise ConfigError(f"a read-out needs (N, D) codes and (N, A) truths, got {tuple(codes.shape)} and {tuple(truth.shape)}")
    x = torch.cat([codes.double(), torch.ones(len(codes), 1, dtype=torch.float64, device=codes.device)], 1).cpu()  # (N, D + 1)
    target = torch.where(truth.bool(), 1.0, -1.0).double().cpu()  # (N, A)
    solution = torch.linalg.lstsq(x, target, driver="gelsd").solution  # (D + 1, A); gelsd copes with collapsed latents
    weights, bias = solution[:-1].T, solution[-1]  # (A, D), (A,)
    return (weights[0], bias[0]) if single else (weights, bias)


def code_accuracy(train_codes: torch.Tensor, train_truth: torch.Tensor, test_codes: torch.Tensor, test_truth: torch.Tensor) -> float:
    """Test accuracy of a least-squares linear read-out of a binary attribute from codes.

    Args:
        train_codes, test_codes: posterior means, (N, D) and (M, D).
        train_truth, test_truth: the attribute, (N,) and (M,) bool.

    Returns:
        The fraction of test codes on the right side of the read-out (0.5 or so when the codes do not
        carry the attribute linearly; the larger class's share for a constant read-out).
    """
    if test_codes.dim() != 2 or test_codes.shape[1:] != train_codes.shape[1:] or len(test_truth) != len(test_codes):
        raise ConfigError(
            f"code_accuracy needs (N, D) codes with (N,) truths, got {tuple(train_codes.shape)} and {tuple(test_codes.shape)}"
        )
    weights, bias = linear_readout(train_codes, train_truth.bool())  # (D,), ()
    read = test_codes.double().cpu() @ weights + bias  # (M,)
    return float(((read > 0) == test_truth.bool().cpu()).double().mean())
