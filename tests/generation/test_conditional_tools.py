"""The latent tools on conditional models (cvae): known answers on a model whose condition is an
exact shift, then every command end to end on a label-conditioned run."""

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.distributions import DiagonalGaussian, Gaussian
from vaekit.errors import ConfigError
from vaekit.generation import apply_attribute, grid, interpolate, lerp, one_hot_labels, path_times, recondition, reconstruct, traverse
from vaekit.models.base import LatentModel
from vaekit.run import load

from conftest import TINY_FLAGS, assert_user_error, cli

SHIFT = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])  # (Y, D): what each condition adds to x


class ShiftCVAE(LatentModel):
    """q(z|x, y) = N(x - y W, 1), p(x|z, y) = N(z + y W, 1): the code is x with the condition's
    shift taken out, so decoding with another condition y' gives exactly x + (y' - y) W."""

    latent_dim = 3
    data_shape = (3,)
    conditioning = "label"
    condition_dim = 2

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def encode(self, x, condition=None):
        return DiagonalGaussian(x.flatten(1) - condition @ SHIFT, torch.zeros(x.shape[0], 3))

    def decode(self, z, condition=None):
        return Gaussian(z + condition @ SHIFT, torch.tensor(0.0), data_dims=1)

    def prior(self, n, like=None):
        return DiagonalGaussian.standard(n, 3, self.anchor)


ONE, TWO = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])


def test_reconditioning_moves_an_input_by_exactly_the_conditions_difference():
    model = ShiftCVAE()
    x = torch.tensor([[0.5, -1.0, 2.0], [3.0, 0.0, 1.0]])
    y = torch.cat([ONE, TWO])
    torch.testing.assert_close(recondition(model, x, y, [y]), reconstruct(model, x, y))  # its own condition: the reconstruction
    swapped = recondition(model, x, y, [torch.cat([TWO, TWO]), torch.cat([ONE, ONE])])  # (B * 2, 3), input by input
    torch.testing.assert_close(swapped[0], x[0] + (TWO - ONE)[0] @ SHIFT)
    torch.testing.assert_close(swapped[1], x[0])
    torch.testing.assert_close(swapped[2], x[1])
    torch.testing.assert_close(swapped[3], x[1] + (ONE - TWO)[0] @ SHIFT)
    with pytest.raises(ConfigError, match="conditioned on labels: give the inputs' conditions"):
        recondition(model, x, None, [y])
    with pytest.raises(ConfigError, match=r"shape \(1, 2\)"):
        recondition(model, x, y, [ONE])  # one condition for two inputs


def test_an_interpolation_between_classes_moves_code_and_condition_together():
    model = ShiftCVAE()
    xa, xb = torch.tensor([[1.0, 2.0, 0.0]]), torch.tensor([[-1.0, 0.0, 4.0]])
    images = interpolate(model, xa, xb, 5, "lerp", 0.5, conditions=(ONE, TWO))  # 2 extra points past each end
    t = path_times(5, 0.5)
    za, zb = xa[0] - ONE[0] @ SHIFT, xb[0] - TWO[0] @ SHIFT
    expected = lerp(za, zb, t) + lerp(ONE[0], TWO[0], t.clamp(0, 1)) @ SHIFT  # the condition stops at the ends
    torch.testing.assert_close(images, expected)
    torch.testing.assert_close(images[2], xa[0])  # the ends are the reconstructions
    torch.testing.assert_close(images[6], xb[0])
    same = interpolate(model, xa, xb, 3, conditions=(TWO, TWO))  # one class: only the style moves
    torch.testing.assert_close(same[1], (xa[0] + xb[0]) / 2)  # the class's shift comes out and goes back in
    with pytest.raises(ConfigError, match="give the inputs' conditions"):
        interpolate(model, xa, xb, 3)


def test_a_conditional_traversal_and_edit_decode_with_the_inputs_condition():
    model = ShiftCVAE()
    x = torch.tensor([[1.0, 2.0, 3.0]])
    rows = traverse(model, [0], 1.0, 3, x, condition=TWO)  # (3, 3)
    torch.testing.assert_close(rows[:, 0], torch.tensor([-1.0, 0.0, 1.0]))  # z0 set, no shift on dimension 0 for class 2
    torch.testing.assert_close(rows[:, 1:], x[:, 1:].expand(3, 2))  # the rest stays at x: encoded and decoded with the same shift
    around_zero = traverse(model, [2], 1.0, 2, condition=ONE)
    torch.testing.assert_close(around_zero, torch.tensor([[1.0, 0.0, -1.0], [1.0, 0.0, 1.0]]))  # the prior mean plus class 1's shift
    vector = torch.tensor([0.0, 0.0, 1.0])
    edited = apply_attribute(model, torch.cat([x, x]), vector, [0.0, 2.0], condition=torch.cat([ONE, TWO]))
    torch.testing.assert_close(edited, torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 5.0], [1.0, 2.0, 3.0], [1.0, 2.0, 5.0]]))
    with pytest.raises(ConfigError, match="give the inputs' conditions"):
        traverse(model, [0], 1.0, 3, x)


def test_every_latent_tool_runs_on_a_label_conditioned_run(tmp_path, capsys):
    run = tmp_path / "cvae"
    assert cli(capsys, "train", "--model", "cvae", "--epochs", "2", "--limit", "400", *TINY_FLAGS, "--out", run)[0] == 0
    png = lambda name: tmp_path / f"{name}.png"  # noqa: E731
    for argv in (
        ["interpolate", run, "--a", "0", "--b", "1", "--steps", "5", "--out", png("i")],
        ["interpolate", run, "--a", "0", "--b", "1", "--steps", "5", "--label", "3", "--out", png("i3")],
        ["traverse", run, "--top", "2", "--steps", "3", "--out", png("t")],
        ["traverse", run, "--input", "4", "--top", "2", "--steps", "3", "--out", png("t4")],
        ["latent-map", run, "--limit", "100", "--out", png("m")],
        ["attribute", run, "--attribute", "label=3", "--inputs", "0,1", "--out", png("a")],
        ["reconstruct", run, "--n", "4", "--label", "all", "--out", png("all")],
        ["reconstruct", run, "--n", "4", "--label", "7", "--out", png("r7")],
        ["fit-sampler", run, "--components", "2"],  # codes of every class; the samples take their class from --label
        ["sample", run, "--sampler", "gmm", "--label", "3", "--n", "4", "--out", png("g")],
        ["encode", run, "--limit", "6", "--out", tmp_path / "codes.npz"],
        ["decode", run, tmp_path / "codes.npz", "--out", tmp_path / "decoded.npz"],
    ):
        code, _, err = cli(capsys, *argv)
        assert code == 0, (argv, err)
    assert Image.open(png("i")).size == Image.open(png("i3")).size
    assert Image.open(png("all")).size == tuple(reversed(grid(torch.zeros(44, 1, 8, 8), nrow=11).shape[-2:]))  # original + 10 classes a row
    decoded = np.load(tmp_path / "decoded.npz")["images"]
    codes = np.load(tmp_path / "codes.npz")
    assert decoded.shape == (6, 1, 8, 8) and set(codes) == {"mu", "logvar", "labels"}
    model = load(run)  # decode used the stored labels: the same images as decoding each row with its own one-hot class
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(codes["mu"]), one_hot_labels(torch.from_numpy(codes["labels"]), 10)).mean
    np.testing.assert_allclose(decoded, expected.numpy(), atol=1e-6)
    as_zero = model.decode(torch.from_numpy(codes["mu"]), one_hot_labels([0] * 6, 10)).mean.detach().numpy()
    assert np.abs(decoded - as_zero).max() > 1e-3  # and the labels matter: class 0 for every row gives other images
    image = Image.new("L", (8, 8))
    image.save(png("file"))
    for argv, pattern in (
        (["interpolate", run, "--a", "0", "--b-file", png("file"), "--out", png("x")], r"--b-file\) has none: add --label L"),
        (
            ["interpolate", run, "--a", "0", "--b", "1", "--label", "10", "--out", png("x")],
            r"--label 10: this model knows the classes 0..9",
        ),
        (["attribute", run, "--attribute", "label=3", "--input-files", png("file"), "--out", png("x")], "add --label L"),
        (["reconstruct", run, "--label", "seven", "--out", png("x")], "a class number or 'all'"),
        (["reconstruct", run, "--set", "smiling=1", "--out", png("x")], "conditioned on attributes.*this one is conditioned on labels"),
        (["reconstruct", run, "--set", "a=1", "--label", "1", "--out", png("x")], "not both"),
    ):
        assert_user_error(capsys, argv, pattern)
    np.savez(tmp_path / "nolabels.npz", mu=codes["mu"])
    assert_user_error(capsys, ["decode", run, tmp_path / "nolabels.npz", "--out", png("x")], r"no 'labels' array.*or give --label L")
    assert cli(capsys, "decode", run, tmp_path / "nolabels.npz", "--label", "2", "--out", png("d2"))[0] == 0
    np.savez(tmp_path / "badlabels.npz", mu=codes["mu"], labels=codes["labels"][:3])
    assert_user_error(capsys, ["decode", run, tmp_path / "badlabels.npz", "--out", png("x")], "does not match the 6 rows")


def test_label_options_are_refused_for_an_unconditional_run(tiny_digits_run, tmp_path, capsys):
    for argv in (
        ["interpolate", tiny_digits_run, "--a", "0", "--b", "1", "--label", "2", "--out", tmp_path / "x.png"],
        ["reconstruct", tiny_digits_run, "--label", "all", "--out", tmp_path / "x.png"],
    ):
        assert_user_error(capsys, argv, "--label needs a run of a label-conditioned model.*an unconditional model")
