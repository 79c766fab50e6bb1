"""Evaluation metrics against known answers."""

import math

import pytest
import torch

from vaekit.distributions import DiagonalGaussian, Gaussian
from vaekit.evaluation import auroc, mutual_information, psnr, ssim
from vaekit.evaluation.fidelity import _knn_radii, frechet_distance
from vaekit.evaluation.reconstruction import SSIM_K1
from vaekit.objectives import iwae_bound, iwae_log_weights

SSIM_C1 = SSIM_K1**2  # data range 1


# The implementations vaekit had before it called maintained libraries (pytorch-msssim, scikit-learn,
# scipy), kept here as references: the library numbers must agree with them.


def reference_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Wang et al. with a full 2-D 11x11 Gaussian window (sigma 1.5) over the valid region."""
    size = min(11, x.shape[2], x.shape[3])
    size -= 1 - size % 2
    r = torch.arange(size, dtype=x.dtype) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * 1.5**2))
    w = ((g / g.sum())[:, None] * (g / g.sum())[None, :])[None, None].expand(x.shape[1], 1, size, size)
    blur = lambda t: torch.nn.functional.conv2d(t, w, groups=x.shape[1])  # noqa: E731
    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y, cov = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    return (((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))).flatten(1).mean(1)


def reference_auroc(inliers: torch.Tensor, outliers: torch.Tensor) -> float:
    """The Mann-Whitney U statistic over the number of pairs, ties at half."""
    greater = (outliers[:, None] > inliers[None, :]).double().sum()
    ties = (outliers[:, None] == inliers[None, :]).double().sum()
    return float((greater + 0.5 * ties) / (len(inliers) * len(outliers)))


def reference_frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """tr (S_a S_b)^(1/2) from the eigenvalues of the symmetric S_a^(1/2) S_b S_a^(1/2)."""
    a, b = a.double(), b.double()
    s_a, s_b = torch.cov(a.T), torch.cov(b.T)
    w, v = torch.linalg.eigh(s_a)
    root_a = (v * w.clamp(min=0).sqrt()) @ v.T
    cross = torch.linalg.eigvalsh(root_a @ s_b @ root_a).clamp(min=0).sqrt().sum()
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + s_a.trace() + s_b.trace() - 2 * cross)


@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (3, 3, 64, 64), (4, 1, 8, 8), (3, 1, 28, 20)])
def test_library_ssim_agrees_with_wang_et_al_window(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(shape, generator=g)
    y = (x + 0.1 * torch.randn(shape, generator=g)).clamp(0, 1)
    torch.testing.assert_close(ssim(x, y), reference_ssim(x, y), atol=1e-6, rtol=0)  # measured: at most 4e-7 apart


def test_library_auroc_agrees_with_the_mann_whitney_statistic():
    g = torch.Generator().manual_seed(0)
    inliers, outliers = torch.randn(300, generator=g), torch.randn(200, generator=g) + 0.5
    outliers[:20] = inliers[:20]  # ties count half
    assert auroc(inliers, outliers) == pytest.approx(reference_auroc(inliers, outliers), abs=1e-12)


def test_library_frechet_distance_and_neighbours_agree_with_the_previous_forms():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 16, generator=g, dtype=torch.float64), torch.randn(400, 16, generator=g, dtype=torch.float64) * 1.3 + 0.2
    assert frechet_distance(a, b) == pytest.approx(reference_frechet(a, b), rel=1e-9)
    kth = torch.cdist(a, a).kthvalue(4, dim=1).values  # the 3rd neighbour (the point itself is at 0)
    torch.testing.assert_close(_knn_radii(a, 3), kth, atol=1e-9, rtol=0)


def test_ssim_of_an_image_with_itself_is_one_and_falls_with_noise():
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ssim(x, x), torch.ones(3))
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert (ssim(x, noisy) < 0.9).all() and (ssim(x, noisy) > ssim(x, torch.rand_like(x))).all()
    assert ssim(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)).shape == (2,)  # small images: a smaller window


def test_ssim_of_constant_images_by_hand():
    a, b = 0.3, 0.7  # no variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    got = ssim(
        torch.full((1, 1, 16, 16), a, dtype=torch.float64), torch.full((1, 1, 16, 16), b, dtype=torch.float64)
    ).item()  # float64: var = 0 exactly
    assert got == pytest.approx((2 * a * b + SSIM_C1) / (a * a + b * b + SSIM_C1), rel=1e-4)


def test_psnr_by_hand():
    x = torch.zeros(2, 1, 4, 4)
    torch.testing.assert_close(psnr(x, x + 0.1), torch.full((2,), 20.0))  # 10 log10(1 / 0.01)
    assert psnr(x, x)[0].item() == pytest.approx(100.0)  # capped


def test_auroc_known_answers():
    assert auroc(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([3.0, 4.0])) == 1.0
    assert auroc(torch.tensor([3.0, 4.0]), torch.tensor([0.0, 1.0])) == 0.0
    assert auroc(torch.ones(10), torch.ones(7)) == 0.5  # identical scores
    assert auroc(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 3.0])) == 0.75  # 3 of 4 pairs ordered


def test_mutual_information_between_its_bounds():
    n = 1000
    g = torch.Generator().manual_seed(0)
    spread = torch.randn(n, 2, generator=g, dtype=torch.float64) * 10
    assert mutual_information(spread, torch.full_like(spread, -12.0), g) == pytest.approx(math.log(n), abs=0.05)  # z identifies x
    same = torch.zeros(n, 2, dtype=torch.float64)
    assert mutual_information(same, torch.zeros_like(same), g) == pytest.approx(0.0, abs=1e-9)  # z ignores x


def test_mutual_information_equals_its_definition_term_by_term():
    """The matrix-product form against log q(z_i|x_n) from torch.distributions for every pair."""
    n, d = 300, 5
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64) * 4
    logvar = torch.empty(n, d, dtype=torch.float64).uniform_(-12.0, 2.0, generator=g)  # sigma from 0.0025 to 2.7
    z = mu + torch.exp(0.5 * logvar) * torch.randn(
        mu.shape, generator=torch.Generator().manual_seed(1), dtype=mu.dtype
    )  # the function's draw
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))  # batch (N, D)
    log_q_own = q.log_prob(z).sum(-1)  # (N,)
    log_q_pairs = torch.distributions.Normal(mu[None], torch.exp(0.5 * logvar[None])).log_prob(z[:, None]).sum(-1)  # (i, n)
    expected = float((log_q_own - (torch.logsumexp(log_q_pairs, dim=1) - math.log(n))).mean())
    got = mutual_information(mu, logvar, torch.Generator().manual_seed(1), chunk=64)  # several chunks, a short last one
    assert got == pytest.approx(expected, abs=1e-9)
    from_float32 = mutual_information(mu.float(), logvar.float(), torch.Generator().manual_seed(1))
    assert from_float32 == pytest.approx(expected, abs=1e-4)  # computed in float64 all the same; only the inputs are rounded


def test_iwae_matches_the_exact_log_likelihood_of_a_linear_gaussian_model():
    # z ~ N(0, 1), x | z ~ N(2z, 0.5): p(x) = N(0, 4.5). The proposal is deliberately off.
    x = torch.tensor([[-3.0], [0.2], [1.7]], dtype=torch.float64)
    q = DiagonalGaussian(x / 2.5, torch.full_like(x, math.log(0.3)))
    prior = DiagonalGaussian(torch.zeros_like(x), torch.zeros_like(x))

    def decode(z):
        return Gaussian(2 * z, torch.tensor(math.log(0.5), dtype=z.dtype), data_dims=1)

    log_w, _ = iwae_log_weights(x, q, prior, decode, 5000, torch.Generator().manual_seed(0))
    exact = -0.5 * (math.log(2 * math.pi * 4.5) + x[:, 0] ** 2 / 4.5)
    torch.testing.assert_close(iwae_bound(log_w), exact, atol=0.01, rtol=0)  # Monte-Carlo error of K = 5000
    assert (log_w.mean(0) < exact).all()  # the ELBO stays below
