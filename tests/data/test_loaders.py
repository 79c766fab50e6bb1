"""Datasets: real files, the IDX parser's defences, lookup order, and downloads from a local server."""

import functools
import gzip
import http.server
import shutil
import struct
import threading

import numpy as np
import pytest
import torch

from vaekit.data import DataConfig, load_dataset, mnist
from vaekit.data.idx import read_idx
from vaekit.errors import ConfigError, DataError

from conftest import write_idx, write_mnist_dir


def test_digits_is_embedded_with_fixed_splits():
    d = load_dataset(DataConfig())
    assert d.shape == (1, 8, 8) and (len(d.train), len(d.valid), len(d.test)) == (1257, 180, 360)
    assert d.train.x.dtype == torch.uint8 and d.train.labels.dtype == torch.int64
    x = d.train.batch(slice(0, 10))
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(load_dataset(DataConfig()).test.x, d.test.x)  # fixed, not reshuffled


def test_real_mnist_and_fashion_mnist(data_dir):
    for name in ("mnist", "fashion-mnist"):
        d = load_dataset(DataConfig(name=name, data_dir=data_dir))
        assert d.shape == (1, 28, 28) and (len(d.train), len(d.valid), len(d.test)) == (50_000, 10_000, 10_000)
        assert d.train.labels.max() == 9 and d.train.x.dtype == torch.uint8
    counts = torch.bincount(load_dataset(DataConfig(name="mnist", data_dir=data_dir)).test.labels)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # SOURCES.md


def test_real_binarized_mnist(data_dir):
    d = load_dataset(DataConfig(name="binarized-mnist", data_dir=data_dir))
    assert (len(d.train), len(d.valid), len(d.test)) == (50_000, 10_000, 10_000) and d.train.labels is None
    assert d.test.batch(slice(None)).mean().item() == pytest.approx(0.13251, abs=1e-4)  # SOURCES.md


def test_vaekit_data_env_is_searched(data_dir, monkeypatch, isolated_cache):
    monkeypatch.setenv("VAEKIT_DATA", str(data_dir))
    assert len(load_dataset(DataConfig(name="mnist")).test) == 10_000


def test_limit_valid_size_and_dynamic_binarization(isolated_cache, tmp_path):
    root = write_mnist_dir(tmp_path / "m")
    d = load_dataset(DataConfig(name="mnist", data_dir=root, valid_size=5, limit=7, binarize="dynamic"))
    assert (len(d.train), len(d.valid), len(d.test)) == (7, 5, 10)
    a = d.train.batch(slice(None), torch.Generator().manual_seed(0))
    b = d.train.batch(slice(None), torch.Generator().manual_seed(1))
    assert set(a.unique().tolist()) <= {0.0, 1.0} and not torch.equal(a, b)  # resampled each time
    again = load_dataset(DataConfig(name="mnist", data_dir=root, valid_size=5, binarize="dynamic"))
    assert torch.equal(d.test.x, again.test.x) and set(d.test.x.unique().tolist()) <= {0, 1}  # fixed once


def test_idx_header_validation(tmp_path):
    ok = write_idx(tmp_path / "ok.gz", np.arange(24).reshape(2, 3, 4))
    assert read_idx(ok, 3).shape == (2, 3, 4)
    assert read_idx(write_idx(tmp_path / "raw", np.zeros((2, 2, 2)), compress=False), 3).shape == (2, 2, 2)
    bad_magic = tmp_path / "bad"
    bad_magic.write_bytes(gzip.compress(b"\x01\x02\x08\x03" + b"\x00" * 20))
    with pytest.raises(DataError, match="bad: not an IDX file"):
        read_idx(bad_magic, 3)
    with pytest.raises(DataError, match="expected an IDX file with 1 dimension"):
        read_idx(ok, 1)


def test_idx_header_claiming_more_data_than_the_file_holds(tmp_path):
    path = write_idx(tmp_path / "short.gz", np.zeros((2, 28, 28)), claim=(60_000, 28, 28))
    with pytest.raises(DataError, match=r"short.gz: truncated IDX file: the header promises 47040000 bytes .* holds 1568"):
        read_idx(path, 3)


def test_idx_absurd_header_is_rejected_before_allocating(tmp_path):
    path = write_idx(tmp_path / "huge.gz", np.zeros((1, 1, 1)), claim=(4_000_000_000, 4_000_000_000, 28))
    with pytest.raises(DataError, match="not plausible"):
        read_idx(path, 3)


def test_idx_trailing_bytes_and_corrupt_gzip(tmp_path):
    extra = write_idx(tmp_path / "extra.gz", np.zeros((3, 2, 2)), claim=(2, 2, 2))
    with pytest.raises(DataError, match="bytes after"):
        read_idx(extra, 3)
    good = gzip.compress(struct.pack(">BBBBIII", 0, 0, 8, 3, 100, 28, 28) + bytes(78400))
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="cut.gz: cannot read .*corrupt or truncated"):
        read_idx(tmp_path / "cut.gz", 3)
    (tmp_path / "garbage.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    with pytest.raises(DataError, match="garbage.gz: cannot read"):
        read_idx(tmp_path / "garbage.gz", 3)


def test_images_and_labels_must_agree(tmp_path, isolated_cache):
    root = write_mnist_dir(tmp_path / "m")
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.zeros(9))
    with pytest.raises(DataError, match="holds 10 images but .*t10k-labels-idx1-ubyte.gz holds 9 labels"):
        load_dataset(DataConfig(name="mnist", data_dir=root, valid_size=5))


def test_binarized_npz_problems(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    path = d / "binarized_mnist.npz"
    np.savez(path, train=np.zeros((4, 784), np.uint8), valid=np.zeros((2, 784), np.uint8))
    with pytest.raises(DataError, match=r"missing array\(s\) \['test'\]"):
        load_dataset(DataConfig(name="binarized-mnist", data_dir=d))
    np.savez(path, train=np.full((4, 784), 2, np.uint8), valid=np.zeros((2, 784), np.uint8), test=np.zeros((2, 784), np.uint8))
    with pytest.raises(DataError, match="values other than 0 and 1"):
        load_dataset(DataConfig(name="binarized-mnist", data_dir=d))
    np.savez(path, train=np.zeros((4, 100), np.uint8), valid=np.zeros((2, 784), np.uint8), test=np.zeros((2, 784), np.uint8))
    with pytest.raises(DataError, match=r"shape \(4, 100\), expected \(N, 784\)"):
        load_dataset(DataConfig(name="binarized-mnist", data_dir=d))
    path.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(DataError, match="binarized_mnist.npz: cannot read"):
        load_dataset(DataConfig(name="binarized-mnist", data_dir=d))


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown dataset 'cifar'; choose one of: digits, mnist"):
        DataConfig(name="cifar")
    with pytest.raises(ConfigError, match="--limit must be at least 1"):
        DataConfig(limit=0)
    with pytest.raises(ConfigError, match="leaves no training data"):
        load_dataset(DataConfig(valid_size=5000))


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server over tmp_path/www; yields (root dir, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_real_mnist_from_a_local_mirror(data_dir, http_server, isolated_cache, monkeypatch):
    root, url = http_server
    for f in (data_dir / "mnist").glob("*.gz"):
        shutil.copy(f, root / f.name)
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ["http://127.0.0.1:9/nothing-here/", url])  # first mirror is dead
    d = load_dataset(DataConfig(name="mnist"))
    assert len(d.train) == 50_000 and d.source == str(isolated_cache / "mnist")
    assert sorted(p.name for p in (isolated_cache / "mnist").iterdir()) == sorted(f.name for f in mnist.FILES["mnist"])
    assert len(load_dataset(DataConfig(name="mnist")).test) == 10_000  # second time: from the cache


def test_download_with_a_bad_checksum_leaves_nothing_behind(http_server, isolated_cache, monkeypatch, tmp_path):
    root, url = http_server
    write_mnist_dir(root)  # valid IDX files, but not the real MNIST bytes
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [url])
    with pytest.raises(DataError, match=r"could not download train-images-idx3-ubyte.gz \(.*checksum mismatch"):
        load_dataset(DataConfig(name="mnist"))
    assert not any((isolated_cache / "mnist").iterdir())  # no partial or unverified file


def test_no_mirror_reachable_says_what_to_do(isolated_cache, monkeypatch):
    monkeypatch.setitem(mnist.MIRRORS, "fashion-mnist", ["http://127.0.0.1:9/"])
    monkeypatch.setitem(mnist.SYSTEM_DIRS, "fashion-mnist", ())
    with pytest.raises(DataError, match="could not download .* put the file in .* or pass --data-dir DIR"):
        load_dataset(DataConfig(name="fashion-mnist"))


def test_batch_by_index_tensor_equals_slicing_and_never_writes_to_the_data():
    from vaekit.data.base import InMemoryDataset

    images = torch.randint(0, 256, (50, 1, 4, 4), dtype=torch.uint8)
    split = InMemoryDataset(images, None, 255.0)
    index = torch.tensor([7, 3, 3, 49])
    torch.testing.assert_close(split.batch(index), images[index].float() / 255)
    torch.testing.assert_close(split.batch(slice(2, 5)), images[2:5].float() / 255)
    floats = torch.rand(10, 3)  # float data: a slice is a view of the dataset itself
    before = floats.clone()
    InMemoryDataset(floats, None, 2.0).batch(slice(0, 10))
    assert torch.equal(floats, before)


def test_passes_over_a_split_are_chunked_by_bytes_not_examples():
    import torch

    from vaekit.data.base import InMemoryDataset

    big = InMemoryDataset(torch.randint(0, 256, (50, 3, 64, 64), dtype=torch.uint8), None, 255.0)
    chunks = list(big.value_chunks(max_bytes=4 * 3 * 64 * 64 * 8))  # room for 8 examples
    assert [len(c) for c in chunks] == [8] * 6 + [2]
    assert torch.equal(torch.cat(chunks), big.values(slice(None)))
    assert [len(c) for c in big.value_chunks(max_bytes=1)] == [1] * 50  # at least one example at a time


def test_the_data_option_help_names_every_registered_dataset():
    import inspect

    from vaekit.data import config
    from vaekit.data.registry import DATASETS, PREFIXES

    help_text = inspect.getsource(config.DataConfig).split('"""')[3]  # the docstring under `name` (--data)
    assert "--data" not in help_text and all(name in help_text for name in [*DATASETS, *(f"{p}:" for p in PREFIXES)])
