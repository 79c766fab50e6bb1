"""The generated ``faces``: the same pixels for the same seed, factors and attributes that line up with
the images, and each factor moving the part of the face it names."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.data import DataConfig, load_dataset
from vaekit.data.facegen import ATTRIBUTES, FACTOR_BINS, FACTOR_NAMES, attributes, bin_factors, render, sample_factors
from vaekit.errors import ConfigError
from vaekit.generation import grid

from conftest import assert_user_error, cli

SMILE, GLASSES, X = (FACTOR_NAMES.index(n) for n in ("smile", "glasses", "x"))


def _neutral(n: int = 1) -> np.ndarray:
    """Factor values in the middle of every range, no glasses."""
    values = np.zeros((n, len(FACTOR_NAMES)))
    for i, name in enumerate(FACTOR_NAMES):
        values[:, i] = 0.0 if name in ("smile", "brow_tilt", "roll", "x", "y", "glasses") else 0.5
    return values


@pytest.mark.parametrize(
    ("size", "channels", "digest"),
    [(32, 3, "1655da9c1a2db782"), (32, 1, "cba6e456d589c3b0"), (64, 3, "1d47ad1279735707"), (64, 1, "5580e570a9d62b8f")],
)
def test_the_same_seed_draws_the_same_pixels(size, channels, digest):
    images = render(sample_factors(20, 0)[:4], size, channels)
    assert images.shape == (4, channels, size, size) and images.dtype == np.uint8
    assert hashlib.sha256(images.tobytes()).hexdigest()[:16] == digest
    assert not np.array_equal(render(sample_factors(4, 1), size, channels), images)


def test_a_factor_moves_only_the_part_it_names():
    frown, smile = _neutral(), _neutral()
    frown[0, SMILE], smile[0, SMILE] = -1.0, 1.0
    changed = (render(frown, 64)[0].astype(int) != render(smile, 64)[0].astype(int)).any(0)  # (H, W)
    rows = np.flatnonzero(changed.any(1))
    assert changed.sum() > 20 and rows.min() > 32 and rows.max() < 52  # the mouth: the lower middle of the face
    plain, glasses = _neutral(), _neutral()
    glasses[0, GLASSES] = 1.0
    changed = (render(plain, 64)[0] != render(glasses, 64)[0]).any(0)
    rows = np.flatnonzero(changed.any(1))
    assert rows.min() > 16 and rows.max() < 36  # the eyes band, above the mouth
    left, right = _neutral(), _neutral()
    left[0, X], right[0, X] = -1.0, 1.0
    centre = lambda image: (np.abs(image.astype(int) - image[:, :, :2].astype(int).mean()).sum(0).sum(0) * np.arange(64)).sum()  # noqa: E731
    assert centre(render(right, 64)[0]) > centre(render(left, 64)[0])  # the head moved right


def test_factors_and_attributes_line_up_with_the_images_through_the_splits():
    d = load_dataset(DataConfig(name="faces:300:7", image_size=32))
    values = sample_factors(300, 7)
    cut = 270  # the last tenth is the test split; validation comes from the end of the rest
    train_and_valid = np.concatenate([d.train.x.numpy(), d.valid.x.numpy()])
    assert np.array_equal(train_and_valid, render(values[:cut], 32)) and np.array_equal(d.test.x.numpy(), render(values[cut:], 32))
    assert np.array_equal(np.concatenate([d.train.factors, d.valid.factors]), bin_factors(values[:cut]))
    assert np.array_equal(d.test.attributes.numpy(), attributes(values[cut:]))
    assert d.attribute_names == tuple(ATTRIBUTES) and d.factor_names == FACTOR_NAMES
    assert d.factor_sizes[GLASSES] == 2 and d.factor_sizes[SMILE] == FACTOR_BINS
    smiling = list(ATTRIBUTES).index("smiling")
    assert np.array_equal(d.test.attributes[:, smiling].numpy(), (values[cut:, SMILE] > 0).astype(np.uint8))


def test_binned_factors_cover_their_range():
    values = sample_factors(5000, 0)
    bins = bin_factors(values)
    assert bins.min() == 0 and bins[:, SMILE].max() == FACTOR_BINS - 1 and set(np.unique(bins[:, GLASSES])) == {0, 1}
    counts = np.bincount(bins[:, SMILE], minlength=FACTOR_BINS)
    assert counts.min() > 0.7 * 5000 / FACTOR_BINS  # uniform: every bin about 250


def test_grey_faces_and_bad_specs():
    assert load_dataset(DataConfig(name="faces:20", image_size=32, channels=1)).shape == (1, 32, 32)
    for name, size, pattern in (
        ("faces:abc", 64, "with whole numbers"),
        ("faces:5", 64, "N >= 10"),
        ("faces", 16, "--image-size 32 to 256"),
        ("faces", 512, "--image-size 32 to 256"),
    ):
        with pytest.raises(ConfigError, match=pattern):
            DataConfig(name=name, image_size=size)


def test_attribute_edits_and_attribute_conditions_work_on_faces(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--data", "faces:400", "--image-size", "32", "--hidden", "64", "--latent-dim", "8", "--epochs", "2", "--no-progress"]
    assert cli(capsys, "train", *common, "--no-images", "--out", out)[0] == 0
    code, _, err = cli(capsys, "attribute", out, "--attribute", "smiling", "--inputs", "0,1", "--out", tmp_path / "smile.png")
    assert code == 0, err
    for keep in ("mouth_open,eyes_open", "mouth_open,eyes_open,angry_brows"):  # a smile that holds other attributes' read-outs
        code, _, err = cli(
            capsys, "attribute", out, "--attribute", "smiling", "--keep", keep, "--inputs", "0,1", "--out", tmp_path / "k.png"
        )
        assert code == 0 and Image.open(tmp_path / "k.png").size == Image.open(tmp_path / "smile.png").size, err
    for keep, pattern in (
        ("smiling", "cannot hold fixed the attribute being edited"),
        ("all", "holding 8 attributes fixed leaves no direction of the 8 latents"),
        ("beard", "unknown attribute 'beard'"),
        (",", "needs"),
    ):
        assert_user_error(capsys, ["attribute", out, "--attribute", "smiling", "--keep", keep, "--out", tmp_path / "k.png"], pattern)
    code, stdout, err = cli(capsys, "evaluate", out, "--iw-samples", "2", "--disentanglement", "--json")
    assert code == 0, err
    cvae = tmp_path / "cvae"
    code, _, err = cli(capsys, "train", *common, "--model", "cvae", "--condition", "attributes", "--out", cvae)
    assert code == 0, err
    assert cli(capsys, "sample", cvae, "--n", "4", "--out", tmp_path / "s.png")[0] == 0
    # an attribute-conditioned model is edited through its condition: originals, reconstructions, then smiling set to 1
    code, _, err = cli(capsys, "reconstruct", cvae, "--n", "4", "--set", "smiling=1,glasses=0", "--out", tmp_path / "set.png")
    assert code == 0, err
    assert Image.open(tmp_path / "set.png").size[1] == grid(torch.zeros(24, 3, 32, 32), nrow=8).shape[0]  # three rows of 8, not two
    for argv in (["interpolate", cvae, "--a", "0", "--b", "1"], ["traverse", cvae, "--input", "2", "--top", "2"], ["latent-map", cvae]):
        code, _, err = cli(capsys, *argv, "--out", tmp_path / "tool.png")
        assert code == 0, (argv, err)
    for argv, pattern in (
        (["reconstruct", cvae, "--set", "smiling=yes"], "the value must be a number"),
        (["reconstruct", cvae, "--set", "beard=1"], r"name=value pairs of the run's attributes \(smiling, mouth_open"),
        (["traverse", cvae], "conditioned on attributes and there is no --input example.*use --input IDX"),
        (["attribute", cvae, "--attribute", "smiling"], "edit the condition instead.*--set smiling=1"),
    ):
        assert_user_error(capsys, [*argv, "--out", tmp_path / "x.png"], pattern)


def test_large_renders_are_kept_on_disk_and_checked_before_they_are_trusted(tmp_path, monkeypatch):
    from vaekit.data import facegen

    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(facegen, "CACHE_BYTES", 0)  # every render is large enough to keep
    drawn = []
    real_render = facegen.render
    monkeypatch.setattr(facegen, "render", lambda values, *a: drawn.append(len(values)) or real_render(values, *a))

    first = facegen.load_faces("faces:30:2", 32, 3)
    path = tmp_path / "faces" / "faces-v1-n30-seed2-3x32x32.npy"
    assert path.is_file() and drawn == [30] and first.notes == ()
    drawn.clear()
    again = facegen.load_faces("faces:30:2", 32, 3)
    assert drawn == [facegen.CACHE_CHECKS]  # only the check faces are drawn
    assert np.array_equal(again.train.x, first.train.x) and np.array_equal(again.test.x, first.test.x)
    assert np.array_equal(again.train.factors, first.train.factors)

    # a render that does not match (another renderer, or flipped bytes) is drawn again
    images = np.load(path)
    images[-1] ^= 1
    np.save(path, images)
    drawn.clear()
    fixed = facegen.load_faces("faces:30:2", 32, 3)
    assert drawn == [facegen.CACHE_CHECKS, 30] and "did not match" in fixed.notes[0]
    assert np.array_equal(fixed.test.x, first.test.x) and np.array_equal(np.load(path)[-1], first.test.x[-1])

    # a truncated file is drawn again with a note, never trusted
    path.write_bytes(path.read_bytes()[:1000])
    rebuilt = facegen.load_faces("faces:30:2", 32, 3)
    assert "could not be read" in rebuilt.notes[0] and np.array_equal(rebuilt.train.x, first.train.x)
    assert np.array_equal(np.load(path), np.concatenate([first.train.x, first.test.x]))


def test_a_cache_that_cannot_be_written_is_only_a_note(tmp_path, monkeypatch):
    from vaekit.data import facegen

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("VAEKIT_CACHE", str(blocker))
    monkeypatch.setattr(facegen, "CACHE_BYTES", 0)
    raw = facegen.load_faces("faces:12", 32, 1)
    assert len(raw.train) + len(raw.test) == 12 and "could not keep the drawn faces" in raw.notes[0]
