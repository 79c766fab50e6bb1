"""Latent tools on synthetic data where the answer is known, and every command end to end."""

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit import run
from vaekit.commands import RunConfig, train
from vaekit.data import DatasetSplits, InMemoryDataset
from vaekit.distributions import DiagonalGaussian, Gaussian
from vaekit.generation import apply_attribute, attribute_vector, kl_order, lerp, path_times, posterior_means, select, slerp, traverse
from vaekit.models.base import LatentModel

from conftest import assert_user_error, cli


class IdentityVAE(LatentModel):
    """q(z|x) = N(x, diag(posterior_var)), p(x|z) = N(z, 1): latent space = data space (D = 3)."""

    latent_dim = 3
    data_shape = (3,)

    def __init__(self, logvar=(0.0, 0.0, 0.0)):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the model a device
        self.logvar = torch.tensor(logvar)

    def encode(self, x, condition=None):
        return DiagonalGaussian(x.flatten(1), self.logvar.expand(x.shape[0], 3))

    def decode(self, z, condition=None):
        return Gaussian(z, torch.tensor(0.0), data_dims=1)

    def prior(self, n, like=None):
        return DiagonalGaussian.standard(n, 3, self.anchor)


def test_slerp_keeps_the_norm_and_lerp_extrapolation_continues_the_line():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, generator=g), torch.randn(8, generator=g)
    b = b * a.norm() / b.norm()  # equal norms
    t = path_times(9, extrapolate=0.5)  # 4 extra steps on each side
    assert t.shape == (17,) and t[0].item() == pytest.approx(-0.5) and t[-1].item() == pytest.approx(1.5)
    torch.testing.assert_close(slerp(a, b, t).norm(dim=1), a.norm().expand(17))
    path = lerp(a, b, t)
    torch.testing.assert_close(path[4], a)
    torch.testing.assert_close(path[12], b)
    torch.testing.assert_close(path[-1], a + 1.5 * (b - a))  # past b along the same line
    torch.testing.assert_close(path[0], a - 0.5 * (b - a))
    torch.testing.assert_close(slerp(a, 2 * a, torch.tensor([0.5])), lerp(a, 2 * a, torch.tensor([0.5])))  # parallel: lerp


def test_a_planted_attribute_direction_is_recovered():
    g = torch.Generator().manual_seed(0)
    direction = torch.tensor([2.0, -1.0, 0.5])
    has = torch.rand(2000, generator=g) < 0.3
    x = torch.randn(2000, 3, generator=g) + has[:, None] * direction  # (N, 3)
    split = InMemoryDataset(x, has.long(), 1.0)
    data = DatasetSplits("toy", split, split, split, classes=None)
    model = IdentityVAE()
    vector = attribute_vector(posterior_means(model, split), select(data, split, "label=1"))
    torch.testing.assert_close(vector, direction, atol=0.15, rtol=0)
    edited = apply_attribute(model, x[:2], vector, [0.0, 1.0])  # (2 inputs x 2 strengths, 3)
    torch.testing.assert_close(edited[1] - edited[0], vector)


def test_traversal_order_follows_kl_and_rows_vary_one_dimension():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 3, generator=g) * torch.tensor([0.1, 3.0, 1.0])  # dim 1 carries the most information
    split = InMemoryDataset(x, None, 1.0)
    model = IdentityVAE(logvar=(-4.0, -4.0, -4.0))
    assert kl_order(model, split) == [1, 2, 0]
    rows = traverse(model, [2, 0], span=3.0, steps=5)  # from the prior mean
    assert rows.shape == (10, 3)
    torch.testing.assert_close(rows[:5, 2], torch.linspace(-3, 3, 5))
    assert (rows[:5, :2] == 0).all() and (rows[5:, 1:] == 0).all()


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, data_dir):
    from vaekit.data import DataConfig
    from vaekit.models import ModelConfig
    from vaekit.training import TrainConfig

    out = tmp_path_factory.mktemp("tools") / "run"
    config = RunConfig(
        DataConfig(name="mnist", data_dir=data_dir, limit=10_000),
        ModelConfig(hidden=(128,), latent_dim=8),
        train=TrainConfig(epochs=2, progress=False),
    )
    train(config, out, images=False)
    return out


def test_every_tool_command_on_a_short_mnist_run(mnist_run, tmp_path, capsys, data_dir):
    def size(name):
        return Image.open(tmp_path / name).size

    tile = 2 * 28 + 2  # 28 px images upscaled x2 (tiles of at least 32 px), 2 px gaps
    code, _, err = cli(
        capsys,
        "interpolate",
        mnist_run,
        "--a",
        0,
        "--b",
        1,
        "--steps",
        7,
        "--extrapolate",
        0.5,
        "--method",
        "slerp",
        "--data-dir",
        data_dir,
        "--out",
        tmp_path / "i.png",
    )
    assert code == 0, err
    assert size("i.png") == (13 * tile + 2, tile + 2)  # 7 steps + 3 extra on each side
    Image.fromarray((np.random.default_rng(0).random((40, 30)) * 255).astype(np.uint8)).save(tmp_path / "mine.png")
    assert (
        cli(
            capsys,
            "interpolate",
            mnist_run,
            "--a-file",
            tmp_path / "mine.png",
            "--b",
            3,
            "--data-dir",
            data_dir,
            "--out",
            tmp_path / "f.png",
        )[0]
        == 0
    )
    assert cli(capsys, "traverse", mnist_run, "--dims", "0,3,5", "--steps", 5, "--data-dir", data_dir, "--out", tmp_path / "t.png")[0] == 0
    assert size("t.png") == (5 * tile + 2, 3 * tile + 2)
    assert cli(capsys, "traverse", mnist_run, "--input", 4, "--data-dir", data_dir, "--out", tmp_path / "t2.png")[0] == 0
    assert size("t2.png") == (9 * tile + 2, 8 * tile + 2)  # all 8 dimensions, by KL
    assert (
        cli(
            capsys,
            "traverse",
            mnist_run,
            "--input-file",
            tmp_path / "mine.png",
            "--top",
            2,
            "--data-dir",
            data_dir,
            "--out",
            tmp_path / "t3.png",
        )[0]
        == 0
    )
    assert size("t3.png") == (9 * tile + 2, 2 * tile + 2)
    code, _, err = cli(
        capsys,
        "attribute",
        mnist_run,
        "--attribute",
        "label=3",
        "--input-files",
        f"{tmp_path / 'mine.png'},{tmp_path / 'mine.png'}",
        "--data-dir",
        data_dir,
        "--out",
        tmp_path / "af.png",
    )
    assert code == 0 and size("af.png") == (5 * tile + 2, 2 * tile + 2), err
    code, _, err = cli(
        capsys,
        "attribute",
        mnist_run,
        "--attribute",
        "label=7",
        "--against",
        "label=1",
        "--inputs",
        "0,1",
        "--strength",
        "-1,0,1",
        "--save-vector",
        tmp_path / "v.npy",
        "--data-dir",
        data_dir,
        "--out",
        tmp_path / "a.png",
    )
    assert code == 0, err
    assert size("a.png") == (3 * tile + 2, 2 * tile + 2) and np.load(tmp_path / "v.npy").shape == (8,)
    code, _, err = cli(capsys, "encode", mnist_run, "--limit", 64, "--data-dir", data_dir, "--out", tmp_path / "z.npz")
    assert code == 0 and "compression ratio 24.5:1" in err  # 784 x 8 bits / (8 x 32 bits)
    latents = np.load(tmp_path / "z.npz")
    assert latents["mu"].shape == latents["logvar"].shape == (64, 8) and latents["labels"].shape == (64,)
    assert cli(capsys, "decode", mnist_run, tmp_path / "z.npz", "--out", tmp_path / "d.png")[0] == 0
    assert size("d.png") == (8 * tile + 2, 8 * tile + 2)
    assert (
        cli(capsys, "encode", mnist_run, "--data", "fashion-mnist", "--limit", 8, "--data-dir", data_dir, "--out", tmp_path / "fz.npz")[0]
        == 0
    )


def test_encode_then_decode_equals_reconstruct(mnist_run, tmp_path, capsys, data_dir):
    from vaekit.generation import reconstruct

    assert cli(capsys, "encode", mnist_run, "--limit", 16, "--data-dir", data_dir, "--out", tmp_path / "z.npz")[0] == 0
    assert cli(capsys, "decode", mnist_run, tmp_path / "z.npz", "--out", tmp_path / "x.npz")[0] == 0
    decoded = torch.from_numpy(np.load(tmp_path / "x.npz")["images"])
    model = run.load(mnist_run)
    x = run.load_split(mnist_run, "test", data_dir, 16).batch(slice(0, 16))
    torch.testing.assert_close(decoded, reconstruct(model, x))


def test_tool_errors(mnist_run, tmp_path, capsys, data_dir):
    base = ["--data-dir", data_dir]
    assert_user_error(
        capsys,
        ["interpolate", mnist_run, "--a", 0, *base, "--out", tmp_path / "x.png"],
        r"give exactly one of --b IDX .* or --b-file IMAGE",
    )
    assert_user_error(
        capsys, ["interpolate", mnist_run, "--a", 0, "--b", 10_000, *base, "--out", tmp_path / "x.png"], r"--b 10000 is out of range"
    )
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert_user_error(
        capsys,
        ["interpolate", mnist_run, "--a-file", tmp_path / "bad.png", "--b", 1, *base, "--out", tmp_path / "x.png"],
        r"bad.png: cannot read as an image",
    )
    assert_user_error(
        capsys, ["traverse", mnist_run, "--dims", "0,9", *base, "--out", tmp_path / "x.png"], r"--dims \[9\] out of range: the latent has 8"
    )
    assert_user_error(
        capsys, ["traverse", mnist_run, "--dims", "a,b", *base, "--out", tmp_path / "x.png"], r"--dims takes comma-separated integers"
    )
    assert_user_error(
        capsys,
        ["attribute", mnist_run, "--attribute", "smiling", *base, "--out", tmp_path / "x.png"],
        r"unknown attribute 'smiling'; use label=K",
    )
    assert_user_error(
        capsys,
        ["attribute", mnist_run, "--attribute", "label=42", *base, "--out", tmp_path / "x.png"],
        r"needs examples on both sides; found 0 with",
    )
    np.savez(tmp_path / "wrong.npz", mu=np.zeros((3, 5), np.float32))
    assert_user_error(
        capsys, ["decode", mnist_run, tmp_path / "wrong.npz", "--out", tmp_path / "x.png"], r"'mu' has shape \(3, 5\); expected \(N, 8\)"
    )
    assert_user_error(
        capsys,
        ["encode", mnist_run, "--data", "frey-faces", *base, "--out", tmp_path / "x.npz"],
        r"the data have shape \(1, 28, 20\) but the model takes \(1, 28, 28\)",
    )


def test_latent_map_and_report(mnist_run, tmp_path, capsys, data_dir):
    import re

    code, _, err = cli(capsys, "latent-map", mnist_run, "--limit", 300, "--data-dir", data_dir, "--out", tmp_path / "map.png")
    assert code == 0, err
    assert Image.open(tmp_path / "map.png").size == (400, 400)  # one 5x5 inch panel at 80 dpi
    code, stdout, err = cli(capsys, "report", mnist_run, "--iw-samples", 5, "--limit", 200, "--data-dir", data_dir)
    assert code == 0, err
    page = (mnist_run / "report.html").read_text()
    assert stdout.strip() == str(mnist_run / "report.html")
    assert re.findall(r"<h2>(.*?)</h2>", page) == [
        "Training curves",
        "Test metrics (K = 5, first 200 test examples)",
        "Samples",
        "Reconstructions",
        "Interpolation",
        "Traversal",
        "Latent map",
        "Configuration",
    ]
    assert page.count('src="data:image/png;base64,') == 6 and "not available" not in page and "iwae_log_px" in page
    table = page.split("Test metrics")[1].split("</table>")[0]
    assert "—" not in table and "frechet_distance" not in table and "codebook_perplexity" not in table  # only what applies, with units
    assert re.search(r"<th>elbo</th><td>[-0-9.]+</td><td>nats</td>", table)


def test_two_dimensional_latent_gets_the_manifold(tmp_path, capsys, data_dir):
    out = tmp_path / "run"
    assert (
        cli(
            capsys,
            "train",
            "--data",
            "mnist",
            "--data-dir",
            data_dir,
            "--limit",
            2000,
            "--latent-dim",
            2,
            "--hidden",
            64,
            "--epochs",
            1,
            "--no-progress",
            "--no-images",
            "--out",
            out,
        )[0]
        == 0
    )
    assert cli(capsys, "latent-map", out, "--limit", 200, "--data-dir", data_dir, "--out", tmp_path / "m.png")[0] == 0
    assert Image.open(tmp_path / "m.png").size == (800, 400)  # scatter and manifold side by side


def test_a_cvae_report_shows_every_latent_tool_with_the_examples_conditions(tmp_path, capsys):
    out = tmp_path / "cvae"
    assert cli(capsys, "train", "--model", "cvae", "--hidden", 32, "--latent-dim", 2, "--epochs", 2, "--no-progress", "--out", out)[0] == 0
    assert cli(capsys, "report", out, "--iw-samples", 3, "--limit", 50)[0] == 0
    page = (out / "report.html").read_text()
    assert "not available for this run" not in page
    assert page.count('src="data:image/png;base64,') == 6  # curves, samples (by class), reconstructions, interpolation, traversal, map
    assert "decoded with test example 0's label" in page


def test_an_image_grid_too_large_for_memory_is_refused_before_it_is_allocated():
    from vaekit.errors import ConfigError
    from vaekit.generation import grid

    images = torch.zeros(1, 1, 28, 28).expand(10**8, 1, 28, 28)  # 10^8 images that take no memory (a broadcast view)
    with pytest.raises(ConfigError, match=r"a grid image of [0-9,]+ x [0-9,]+ pixels would need about .* TiB of memory"):
        grid(images)


def test_a_latent_map_with_class_names_gives_each_class_a_colour_and_a_legend_entry():
    from vaekit.generation.latent_map import latent_map_figure

    points, labels = torch.randn(30, 2), torch.arange(30) % 3
    figure = latent_map_figure(points, labels, "t", classes=("B cell", "T cell", "NK"))
    legend = figure.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["B cell (10)", "T cell (10)", "NK (10)"]
    colours = {tuple(c.get_facecolor()[0]) for c in figure.axes[0].collections}
    assert len(colours) == 3 and len(figure.axes) == 1  # one colour a class, no colour bar
    numbered = latent_map_figure(points, labels, "t")  # without names: the colour bar of label numbers
    assert numbered.axes[0].get_legend() is None and len(numbered.axes) == 2
