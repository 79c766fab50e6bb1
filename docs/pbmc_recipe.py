"""The README's count recipe: VAEs on real single-cell counts (``--data pbmc68k``) with the three
count likelihoods, against two baselines fitted to the same training cells, and the latent map.

    pip install --no-deps scanpy   # vaekit reads only the example file inside its wheel
    python docs/pbmc_recipe.py [--out runs/pbmc] [--seeds 0 1 2] [--epochs 200]

Every model is trained with the real CLI (scVI's default sizes: one hidden layer of 128, 10
latent dimensions; the best validation epoch is kept) and scored once on the test split:

- ``-log p(x)``: the held-out negative log-likelihood per cell in nats, an upper bound from
  ``vaekit evaluate --iw-samples 5000``. The baseline with a true likelihood is the same count
  model without a latent: every gene independent with one share of each cell's library, fitted to
  the training cells by maximum likelihood (Poisson; negative binomial with a dispersion per gene).
- ``recon``: the plug-in reconstruction negative log-likelihood at the posterior mean (VAE) or at
  a 10-component PCA reconstruction of log-normalised counts (PCA), both scored with the same
  per-gene negative binomial, so the two 10-number codes are compared on the same footing.
- ``kNN``: cell-type accuracy on the test cells of a 15-nearest-neighbour classifier fitted on the
  training cells' codes (VAE posterior means, PCA scores).

All counts are scored given the cell's observed library size (its total count), as scVI does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from vaekit import run
from vaekit.data import DataConfig, load_dataset
from vaekit.data.pbmc import TARGET_SUM
from vaekit.generation.encode import posterior_means

IMAGES = Path(__file__).resolve().parent / "images"
LIKELIHOODS = ("poisson", "negative-binomial", "zinb")
LATENT = 10
NEIGHBOURS = 15


def _nb_log_prob(x: torch.Tensor, mean: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Per-cell log p of counts x under NB(mean, inverse dispersion theta), (N,)."""
    nb = torch.distributions.NegativeBinomial(total_count=theta, logits=torch.log(mean.clamp(min=1e-10)) - torch.log(theta))
    return nb.log_prob(x).sum(-1)


def _poisson_log_prob(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Poisson(mean.clamp(min=1e-10)).log_prob(x).sum(-1)


def fit_independent(train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each gene's share of the library (pooled over training cells) and its NB inverse dispersion (maximum likelihood)."""
    x = train.double()
    share = x.sum(0) / x.sum()
    share = share.clamp(min=1e-10)
    mean = x.sum(1, keepdim=True) * share
    log_theta = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_theta], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = -_nb_log_prob(x, mean, log_theta.exp()).mean()
        loss.backward()
        return loss

    optimiser.step(closure)
    return share, log_theta.detach().exp()


def log_normalised(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(x.double() / x.double().sum(1, keepdim=True).clamp(min=1) * TARGET_SUM)


def pca_codes_and_means(train: torch.Tensor, test: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PCA on log-normalised training cells: train scores, test scores, and test mean counts from the k-component reconstruction."""
    a, b = log_normalised(train), log_normalised(test)
    centre = a.mean(0)
    _, _, v = torch.linalg.svd(a - centre, full_matrices=False)
    axes = v[:k].T  # (genes, k)
    scores_a, scores_b = (a - centre) @ axes, (b - centre) @ axes
    rebuilt = (scores_b @ axes.T + centre).expm1().clamp(min=0) + 1e-8  # normalised expression, floored so every gene can occur
    share = rebuilt / rebuilt.sum(1, keepdim=True)
    return scores_a, scores_b, share * test.double().sum(1, keepdim=True)


def knn_accuracy(train_codes, train_labels, test_codes, test_labels) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=NEIGHBOURS).fit(np.asarray(train_codes), np.asarray(train_labels))
    return float((knn.predict(np.asarray(test_codes)) == np.asarray(test_labels)).mean())


def vaekit(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "vaekit", *args], check=True, capture_output=True, text=True)
    return done.stdout


@torch.no_grad()
def vae_scores(run_dir: Path, data, share, theta) -> dict[str, float]:
    """Test -log p(x) (K = 5000), plug-in reconstruction NLL under the baseline's NB, and kNN accuracy."""
    evaluated = json.loads(vaekit("evaluate", str(run_dir), "--split", "test", "--iw-samples", "5000", "--json").strip().splitlines()[-1])
    model = run.load(run_dir, weights="best")
    model.eval()
    test_mu, train_mu = posterior_means(model, data.test), posterior_means(model, data.train)
    rho = model.decode(test_mu).log_rho.exp()  # the decoder's expression shares, (N, genes), before any dropout
    plug_in = -_nb_log_prob(data.test.x.double(), rho.double() * data.test.x.double().sum(1, keepdim=True), theta).mean().item()
    return {
        "nll": evaluated["nll"],
        "recon": plug_in,
        "knn": knn_accuracy(train_mu, data.train.labels, test_mu, data.test.labels),
        "active_units": evaluated["active_units"],
    }


def _mean_sd(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/pbmc"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    data = load_dataset(DataConfig(name="pbmc68k"))
    train, test = data.train.x, data.test.x
    print(f"pbmc68k: {len(train)} training / {len(data.valid)} validation / {len(test)} test cells x {train.shape[1]} genes")

    share, theta = fit_independent(train)
    library = test.double().sum(1, keepdim=True)
    rows = [
        ("independent genes, Poisson (no latent)", -_poisson_log_prob(test.double(), library * share).mean().item(), None, None),
        ("independent genes, NB (no latent)", -_nb_log_prob(test.double(), library * share, theta).mean().item(), None, None),
    ]
    scores_a, scores_b, pca_means = pca_codes_and_means(train, test, LATENT)
    pca_recon = -_nb_log_prob(test.double(), pca_means, theta).mean().item()
    rows.append((f"PCA, {LATENT} components", None, pca_recon, knn_accuracy(scores_a, data.train.labels, scores_b, data.test.labels)))

    for likelihood in LIKELIHOODS:
        found: dict[str, list[float]] = {"nll": [], "recon": [], "knn": []}
        for seed in args.seeds:
            run_dir = args.out / f"{likelihood}-seed{seed}"
            if not (run_dir / "best.safetensors").is_file():
                vaekit(
                    "train", "--data", "pbmc68k", "--likelihood", likelihood, "--hidden", "128", "--latent-dim", str(LATENT),
                    "--epochs", str(args.epochs), "--seed", str(seed), "--out", str(run_dir), "--no-images",
                )  # fmt: skip
            scores = vae_scores(run_dir, data, share, theta)
            print(f"{likelihood} seed {seed}: {scores}")
            for key in found:
                found[key].append(scores[key])
        rows.append((f"VAE, {likelihood}", found["nll"], found["recon"], found["knn"]))

    print(f"\n| model | test -log p(x), nats/cell | recon NLL at the code (NB) | {NEIGHBOURS}-NN cell-type accuracy |")
    print("|---|---|---|---|")
    for name, nll, recon, knn in rows:

        def cell(v, digits):
            return "" if v is None else _mean_sd(v if isinstance(v, list) else [v], digits)

        print(f"| {name} | {cell(nll, 1)} | {cell(recon, 1)} | {cell(knn, 3)} |")

    picture = IMAGES / "pbmc_latent.png"
    vaekit("latent-map", str(args.out / f"zinb-seed{args.seeds[0]}"), "--out", str(picture), "--split", "train", "--method", "tsne")
    print(f"\nlatent map: {picture}")


if __name__ == "__main__":
    main()
