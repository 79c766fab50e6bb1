"""Disentanglement scores of a representation against known generative factors.

Each function takes the codes (posterior means) ``codes`` (N, D) and integer factor indices
``factors`` (N, F) of the same examples, and follows the protocol of the paper it names, in the
discrete-factor form that Locatello et al. (2019, "Challenging common assumptions...") used for
dSprites. Scores lie in [0, 1]; higher is more disentangled.

The β-VAE and FactorVAE scores fix one factor at a time. Where the original papers render new
images with that factor fixed, these draw examples that share the factor's value from the data
itself, which is the same distribution when the data cover the factor product (as ``shapes``
does) and needs no renderer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from vaekit.errors import DataError

MIG_BINS = 20  # Chen et al. (2018) / Locatello et al. (2019) discretise each code into 20 bins
TRAIN_FRACTION = 0.8


def _check(codes: np.ndarray, factors: np.ndarray) -> None:
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise DataError(f"need codes (N, D) and factors (N, F) of the same N, got {codes.shape} and {factors.shape}")
    if len(codes) < 20:
        raise DataError(f"disentanglement scores need at least 20 examples, got {len(codes)}")


def _discretize(codes: np.ndarray, bins: int = MIG_BINS) -> np.ndarray:
    """Each code dimension cut into equal-width bins over its range, (N, D) ints."""
    lo, hi = codes.min(0), codes.max(0)  # (D,)
    width = np.where(hi > lo, (hi - lo) / bins, 1.0)
    return np.clip(((codes - lo) / width).astype(np.int64), 0, bins - 1)


def _mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats of two integer arrays (N,), from their joint histogram."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(joint, (ia, ib), 1)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / outer[nz])).sum())


def _entropy(a: np.ndarray) -> float:
    return _mutual_info(a, a)


def normalized_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """I(code_d; factor_f) / H(factor_f) for every pair, (D, F), codes cut into 20 bins as for MIG;
    NaN for a factor with a single value. Row d says which factor latent d captures."""
    _check(codes, factors)
    binned = _discretize(codes)  # (N, D)
    out = np.full((codes.shape[1], factors.shape[1]), np.nan)  # (D, F)
    for f in range(factors.shape[1]):
        h = _entropy(factors[:, f])
        if h > 0:
            out[:, f] = [_mutual_info(binned[:, d], factors[:, f]) / h for d in range(codes.shape[1])]
    return out


def mig(codes: np.ndarray, factors: np.ndarray) -> float:
    """Mutual information gap (Chen et al. 2018): for each factor, the gap between the two codes most
    informative about it, over the factor's entropy; averaged over factors with more than one value."""
    nmi = normalized_mutual_info(codes, factors)  # (D, F)
    gaps = []
    for column in nmi.T:
        if np.isnan(column).any():
            continue
        top = np.sort(column)[::-1]
        gaps.append(top[0] - (top[1] if len(top) > 1 else 0.0))
    return float(np.mean(gaps)) if gaps else 0.0


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = int(TRAIN_FRACTION * n)
    return order[:cut], order[cut:]


@dataclass(frozen=True)
class DCI:
    """Eastwood & Williams (2018): disentanglement, completeness and informativeness."""

    disentanglement: float
    completeness: float
    informativeness: float  # mean test accuracy of the per-factor predictors


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of a (rows, k) probability matrix, in log base ``base``."""
    q = np.where(p > 0, p, 1.0)
    return -(p * np.log(q)).sum(1) / np.log(max(base, 2))


def dci(codes: np.ndarray, factors: np.ndarray, seed: int = 0, trees: int = 50) -> DCI:
    """DCI from the importances R (D, F) of random forests predicting each factor from the codes
    (Eastwood & Williams use random forests or lasso). Disentanglement: 1 - H_F(R[d]/sum), weighted by
    each code's share of the importance; completeness: 1 - H_D(R[:, f]/sum), weighted likewise.
    """
    from sklearn.ensemble import RandomForestClassifier

    _check(codes, factors)
    train, test = _split(len(codes), seed)
    importance = np.zeros((codes.shape[1], factors.shape[1]))  # (D, F)
    accuracy = []
    for f in range(factors.shape[1]):
        forest = RandomForestClassifier(n_estimators=trees, max_depth=8, max_features=None, random_state=seed, n_jobs=1)
        forest.fit(codes[train], factors[train, f])
        importance[:, f] = forest.feature_importances_
        accuracy.append(forest.score(codes[test], factors[test, f]))
    total = importance.sum()
    if total == 0:  # codes that predict nothing (all constant: a collapsed sparse-ae): nothing is disentangled, not NaN
        return DCI(0.0, 0.0, float(np.mean(accuracy)))
    code_weight = importance.sum(1) / total  # (D,)
    factor_weight = importance.sum(0) / total  # (F,)
    per_code = 1 - _entropy_rows(importance / np.maximum(importance.sum(1, keepdims=True), 1e-12), factors.shape[1])  # (D,)
    per_factor = 1 - _entropy_rows((importance / np.maximum(importance.sum(0, keepdims=True), 1e-12)).T, codes.shape[1])  # (F,)
    return DCI(float(code_weight @ per_code), float(factor_weight @ per_factor), float(np.mean(accuracy)))


def sap(codes: np.ndarray, factors: np.ndarray, seed: int = 0) -> float:
    """Separated attribute predictability (Kumar et al. 2018): for each factor, the test accuracy of a
    classifier on each single code dimension; the score is the mean gap between the best two."""
    from sklearn.tree import DecisionTreeClassifier

    _check(codes, factors)
    train, test = _split(len(codes), seed)
    gaps = []
    for f in range(factors.shape[1]):
        values = len(np.unique(factors[:, f]))
        if values < 2:
            continue
        scores = sorted(
            (
                DecisionTreeClassifier(max_leaf_nodes=2 * values, random_state=seed)
                .fit(codes[train, d : d + 1], factors[train, f])
                .score(codes[test, d : d + 1], factors[test, f])
                for d in range(codes.shape[1])
            ),
            reverse=True,
        )
        gaps.append(scores[0] - (scores[1] if len(scores) > 1 else 0.0))
    return float(np.mean(gaps)) if gaps else 0.0


def _groups(factors: np.ndarray) -> list[dict[int, np.ndarray]]:
    """For each factor, the example indices that share each of its values."""
    return [{int(v): np.flatnonzero(factors[:, f] == v) for v in np.unique(factors[:, f])} for f in range(factors.shape[1])]


def _fixed_factor(groups: dict[int, np.ndarray], rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` examples that share one randomly chosen value of the factor."""
    members = [m for m in groups.values() if len(m) >= 2]
    if not members:
        raise DataError("every value of some factor occurs once: fix-one-factor scores need repeated values")
    chosen = members[rng.integers(len(members))]
    return rng.choice(chosen, size=size, replace=len(chosen) < size)


def beta_vae_score(codes: np.ndarray, factors: np.ndarray, seed: int = 0, points: int = 1000, batch: int = 64) -> float:
    """β-VAE score (Higgins et al. 2017): each point is the mean |z1 - z2| over ``batch`` pairs that
    share one factor; a linear classifier predicts which factor from it; the score is its test accuracy."""
    from sklearn.linear_model import LogisticRegression

    _check(codes, factors)
    rng, groups = np.random.default_rng(seed), _groups(factors)
    usable = [f for f in range(factors.shape[1]) if len(groups[f]) > 1]
    x, y = [], []
    for _ in range(points):
        f = usable[rng.integers(len(usable))]
        pairs = _fixed_factor(groups[f], rng, 2 * batch).reshape(2, batch)  # (2, L)
        x.append(np.abs(codes[pairs[0]] - codes[pairs[1]]).mean(0))  # (D,)
        y.append(f)
    x, y = np.stack(x), np.array(y)
    train, test = _split(points, seed)
    classifier = LogisticRegression(max_iter=2000).fit(x[train], y[train])
    return float(classifier.score(x[test], y[test]))


def factor_vae_score(
    codes: np.ndarray, factors: np.ndarray, seed: int = 0, votes: int = 1000, batch: int = 64, prune: float = 0.05
) -> float:
    """FactorVAE score (Kim & Mnih 2018): codes scaled by their std over the data; for a batch that
    shares one factor, the dimension of least variance votes for that factor; a majority-vote
    classifier from dimensions to factors is trained on half the votes and scored on the rest.
    Dimensions whose std is below ``prune`` (collapsed units) do not vote."""
    _check(codes, factors)
    scale = codes.std(0)  # (D,)
    active = np.flatnonzero(scale >= prune)
    if len(active) == 0:
        return 0.0
    z = codes[:, active] / scale[active]  # (N, D_active)
    rng, groups = np.random.default_rng(seed), _groups(factors)
    usable = [f for f in range(factors.shape[1]) if len(groups[f]) > 1]
    counts = np.zeros((2, len(active), factors.shape[1]), dtype=np.int64)  # (train/test, D_active, F)
    for i in range(votes):
        f = usable[rng.integers(len(usable))]
        d = int(z[_fixed_factor(groups[f], rng, batch)].var(0).argmin())
        counts[i % 2, d, f] += 1
    majority = counts[0].argmax(1)  # (D_active,) the factor each dimension stands for
    return float(counts[1][np.arange(len(active)), majority].sum() / max(counts[1].sum(), 1))


def disentanglement_scores(codes: np.ndarray, factors: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Every score, under the keys of ``vaekit evaluate --disentanglement``."""
    with warnings.catch_warnings():  # small splits: sklearn warns that many factor values look like a regression target
        warnings.simplefilter("ignore", UserWarning)
        d = dci(codes, factors, seed)
        return {
            "mig": mig(codes, factors),
            "dci_disentanglement": d.disentanglement,
            "dci_completeness": d.completeness,
            "dci_informativeness": d.informativeness,
            "sap": sap(codes, factors, seed),
            "factor_vae_score": factor_vae_score(codes, factors, seed),
            "beta_vae_score": beta_vae_score(codes, factors, seed),
        }
