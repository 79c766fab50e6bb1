"""Faces from the shared data, and users' own array files: layouts, splits and every error."""

import numpy as np
import pytest
import scipy.io
import torch

from vaekit.data import DataConfig, load_dataset
from vaekit.errors import ConfigError, DataError


def test_frey_faces(data_dir):
    d = load_dataset(DataConfig(name="frey-faces", data_dir=data_dir))
    assert d.shape == (1, 28, 20) and (len(d.train), len(d.valid), len(d.test)) == (1600, 165, 200)
    assert d.train.labels is None and d.train.x.dtype == torch.uint8


def test_olivetti_faces_keep_every_person_in_every_split(data_dir):
    d = load_dataset(DataConfig(name="olivetti-faces", data_dir=data_dir))
    assert d.shape == (1, 64, 64) and (len(d.train), len(d.valid), len(d.test)) == (320, 40, 40)
    for split in (d.train, d.valid, d.test):
        assert split.labels.unique().tolist() == list(range(40))
    # upright faces: the top rows (hair, background) differ from the chin rows on average
    x = d.train.batch(slice(None)).mean(0)[0]
    assert x.shape == (64, 64) and not torch.allclose(x[:8].mean(), x[-8:].mean(), atol=0.01)


def test_face_files_that_are_not_what_they_claim(tmp_path):
    d = tmp_path / "o"
    d.mkdir()
    scipy.io.savemat(d / "olivettifaces.mat", {"faces": np.zeros((10, 10), np.uint8)})
    with pytest.raises(DataError, match=r"'faces' is uint8 \(10, 10\), expected uint8 \(4096, 400\)"):
        load_dataset(DataConfig(name="olivetti-faces", data_dir=d))
    scipy.io.savemat(d / "olivettifaces.mat", {"other": np.zeros((1, 1))})
    with pytest.raises(DataError, match=r"has no variable 'faces' \(found \['other'\]\)"):
        load_dataset(DataConfig(name="olivetti-faces", data_dir=d))
    (d / "olivettifaces.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(DataError, match="cannot read as a MATLAB file"):
        load_dataset(DataConfig(name="olivetti-faces", data_dir=d))


def test_npy_images_channels_last_become_channels_first(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "rgb.npy"
    np.save(path, rng.integers(0, 256, (50, 12, 10, 3), dtype=np.uint8))
    d = load_dataset(DataConfig(name=f"npy:{path}"))
    assert d.shape == (3, 12, 10) and (len(d.train), len(d.valid), len(d.test)) == (41, 4, 5)
    assert d.train.scale == 255.0 and d.train.labels is None
    raw = np.load(path)
    assert torch.equal(d.test.x[0], torch.from_numpy(raw[45].transpose(2, 0, 1)))


def test_npz_tabular_with_labels_and_fixed_splits(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tab.npz"
    np.savez(path, x=rng.normal(size=(100, 5)), y=rng.integers(0, 3, 100))
    d = load_dataset(DataConfig(name=f"npz:{path}", valid_size=20))
    assert d.shape == (5,) and (len(d.train), len(d.valid), len(d.test)) == (70, 20, 10)
    assert d.train.x.dtype == torch.float32 and d.test.labels.shape == (10,)
    np.savez(path, train=rng.random((30, 4, 4)), test=rng.random((6, 4, 4)), train_labels=np.arange(30), test_labels=np.arange(6))
    d = load_dataset(DataConfig(name=f"npz:{path}"))
    assert d.shape == (1, 4, 4) and (len(d.train), len(d.valid), len(d.test)) == (27, 3, 6)


@pytest.mark.parametrize(
    ("arrays", "pattern"),
    [
        ({"a": np.zeros((5, 2)), "b": np.zeros((5, 2))}, r"no array named x, images or data \(found \['a', 'b'\]\)"),
        ({"x": np.zeros((5,))}, r"has shape \(5,\); expected \(N, D\) rows or \(N, H, W\[, C\]\)"),
        ({"x": np.zeros((5, 2, 7, 7))}, r"has shape \(5, 2, 7, 7\)"),
        ({"x": np.array([[0.0, np.nan]] * 5)}, r"NaN or infinite"),
        ({"x": np.array([["a", "b"]] * 5)}, r"dtype <U1; expected real numbers"),
        ({"x": np.zeros((5, 2)), "y": np.zeros(4, np.int64)}, r"labels 'y' must be 5 non-negative integers"),
        ({"x": np.zeros((2, 2))}, r"only 2 example\(s\)"),
        ({"train": np.zeros((5, 2)), "test": np.zeros((5, 3))}, r"the splits differ in example shape"),
    ],
)
def test_npz_problems(tmp_path, arrays, pattern):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=pattern):
        load_dataset(DataConfig(name=f"npz:{path}"))


def test_array_files_missing_corrupt_or_pickled(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(DataConfig(name=f"npy:{tmp_path / 'nope.npy'}"))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(DataError, match="junk.npz: cannot read"):
        load_dataset(DataConfig(name=f"npz:{tmp_path / 'junk.npz'}"))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="holds Python objects .*never pickled data"):
        load_dataset(DataConfig(name=f"npy:{tmp_path / 'objects.npy'}"))
    with pytest.raises(ConfigError, match=r"choose one of: .*npz:PATH, npy:PATH"):
        DataConfig(name="tsv:thing.tsv")
