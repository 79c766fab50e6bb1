"""``fonts``: glyphs of matplotlib's fonts, the same pixels each time, every font in every split,
held-out characters for test, attributes that follow the font."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vaekit.data import DataConfig, load_dataset
from vaekit.data.fonts import ATTRIBUTES, CHARS, COPIES, FONTS, TEST_CHARS
from vaekit.errors import ConfigError, DataError

from conftest import cli


@pytest.fixture(scope="module")
def fonts():
    return load_dataset(DataConfig(name="fonts", image_size=16))


def test_the_same_glyphs_every_time(fonts):
    assert fonts.shape == (1, 16, 16)
    assert hashlib.sha256(fonts.train.x[:50].numpy().tobytes()).hexdigest()[:16] == "9b3664d58678b702"
    assert hashlib.sha256(fonts.test.x[:50].numpy().tobytes()).hexdigest()[:16] == "9e437998b2e1943a"


def test_every_font_in_every_split_and_test_characters_never_trained_on(fonts):
    train_chars = {CHARS[i] for i in fonts.train.labels.tolist()}
    test_chars = {CHARS[i] for i in fonts.test.labels.tolist()}
    assert test_chars == set(TEST_CHARS) and not train_chars & test_chars
    assert {CHARS[i] for i in fonts.valid.labels.tolist()} == train_chars
    n_fonts, kept = len(FONTS), len(CHARS) - len(TEST_CHARS)
    assert (len(fonts.train), len(fonts.valid), len(fonts.test)) == (
        n_fonts * kept * (COPIES - 1),
        n_fonts * kept,
        n_fonts * len(TEST_CHARS) * COPIES,
    )
    for split in (fonts.train, fonts.valid, fonts.test):  # every combination of the attributes' fonts appears
        assert len({tuple(a) for a in split.attributes.tolist()}) == len(set(FONTS.values()))
    assert fonts.attribute_names == ATTRIBUTES and fonts.classes == tuple(CHARS)


def test_attributes_follow_the_font(fonts):
    train = fonts.train
    ink = train.x.float().flatten(1).mean(1)
    bold = train.attributes[:, ATTRIBUTES.index("bold")] == 1
    assert ink[bold].mean() > 1.3 * ink[~bold].mean()  # bold strokes are thicker
    every = np.stack([np.array(FONTS[f]) for f in FONTS])
    assert every.sum(0).tolist() == train.attributes.numpy().reshape(len(FONTS), -1, len(ATTRIBUTES))[:, 0].sum(0).tolist()


def test_bad_sizes():
    with pytest.raises(DataError, match="fonts are drawn at --image-size 16 to 128"):
        load_dataset(DataConfig(name="fonts", image_size=8))
    with pytest.raises(ConfigError, match="--image-size must be between 4 and 1024"):
        DataConfig(name="fonts", image_size=2)


def test_a_font_vector_edits_glyphs(tmp_path, capsys):
    out = tmp_path / "run"
    train = ["train", "--data", "fonts", "--image-size", "16", "--hidden", "64", "--latent-dim", "8", "--epochs", "2", "--no-progress"]
    assert cli(capsys, *train, "--no-images", "--out", out)[0] == 0
    config = (out / "config.json").read_text()
    assert '"image_size": 16' in config
    code, _, err = cli(capsys, "attribute", out, "--attribute", "bold", "--inputs", "0,1", "--out", tmp_path / "bold.png")
    assert code == 0, err
