"""2-D pictures of the latent space: embedded posterior means coloured by label, and for a 2-D
latent the decoded manifold (Kingma & Welling 2014, figure 4)."""

from __future__ import annotations

import torch

from vaekit.errors import ConfigError, lookup
from vaekit.models import LatentModel


def _pca(means: torch.Tensor, seed: int) -> torch.Tensor:
    centred = means - means.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)  # principal axes in the rows of v
    return centred @ v[:2].T


def _tsne(means: torch.Tensor, seed: int) -> torch.Tensor:
    from sklearn.manifold import TSNE

    if len(means) < 5:
        raise ConfigError(f"t-SNE needs at least 5 points, got {len(means)}; use --method pca")
    perplexity = min(30.0, len(means) - 1.0)  # sklearn's default, or below the number of points as it requires
    embedded = TSNE(n_components=2, random_state=seed, init="pca", perplexity=perplexity).fit_transform(means.numpy())
    return torch.from_numpy(embedded).float()


EMBEDDINGS = {"pca": _pca, "tsne": _tsne}


def embed_2d(means: torch.Tensor, method: str = "pca", seed: int = 0) -> torch.Tensor:
    """Posterior means (N, D) in 2-D, (N, 2): themselves when D = 2, else PCA or t-SNE."""
    embed = lookup(EMBEDDINGS, method, "--method")
    if means.shape[1] == 2:
        return means
    if means.shape[1] < 2 or len(means) < 2:
        raise ConfigError(f"a 2-D map needs at least 2 examples of at least 2 dimensions, got {tuple(means.shape)}")
    return embed(means, seed)


@torch.no_grad()
def manifold(model: LatentModel, steps: int = 15) -> torch.Tensor:
    """Decoded grid over a 2-D latent at the N(0, 1) quantiles of an even grid in (0, 1): (steps^2, C, H, W)."""
    u = torch.linspace(0.05, 0.95, steps)
    q = torch.distributions.Normal(0.0, 1.0).icdf(u)  # (S,)
    z = torch.stack(torch.meshgrid(q, q.flip(0), indexing="xy"), -1).reshape(-1, 2)  # rows top to bottom
    return model.decode(z.to(next(model.parameters()).device)).mean


def latent_map_figure(points: torch.Tensor, labels: torch.Tensor | None, title: str, manifold_grid=None, classes=None):
    """A matplotlib figure: the scatter (coloured by label), and the manifold image if given.

    With the label names (``classes``, at most 20) each class gets its own colour and a legend entry
    (cell types, folder names); otherwise the colour is the label's number on a colour bar.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = 2 if manifold_grid is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 5), squeeze=False)
    ax = axes[0, 0]
    if labels is not None and classes is not None and len(classes) <= 20:
        palette = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for index, name in enumerate(classes):
            chosen = labels == index
            if chosen.any():
                ax.scatter(
                    points[chosen, 0].numpy(), points[chosen, 1].numpy(), s=6, color=palette(index), label=f"{name} ({int(chosen.sum())})"
                )
        ax.legend(fontsize=7, markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.set_size_inches(5 * panels + 2.5, 5)  # room for the legend beside the map
    else:
        if labels is None:  # nothing to colour by (a colour map here only makes matplotlib warn)
            ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), s=3)
        else:
            scatter = ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), c=labels.numpy(), s=3, cmap="tab10")
            fig.colorbar(scatter, ax=ax, label="label")
    ax.set_title(title)
    if manifold_grid is not None:
        axes[0, 1].imshow(manifold_grid, cmap="gray")
        axes[0, 1].set_title("decoded manifold (N(0,1) quantiles)")
        axes[0, 1].axis("off")
    fig.tight_layout()
    return fig
