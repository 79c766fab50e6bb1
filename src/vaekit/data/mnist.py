"""MNIST and Fashion-MNIST from the standard IDX files (found locally or downloaded and verified)."""

from __future__ import annotations

from pathlib import Path

from vaekit.data.idx import read_idx_pair
from vaekit.data.raw import RawSplits, Split
from vaekit.data.sources import RemoteFile, cache_dir, download, find_files

# SHA-256 of the *decompressed* IDX bytes (the .gz bytes differ between mirrors).
FILES = {
    "mnist": [
        RemoteFile("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        RemoteFile("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        RemoteFile("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ],
    "fashion-mnist": [
        RemoteFile("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        RemoteFile("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        RemoteFile("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ],
}

# Tried in order; tests point these at a local HTTP server.
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

# Debian's dataset-fashion-mnist package installs the four files here.
SYSTEM_DIRS = {"mnist": (), "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),)}


def _load(name: str, data_dir: Path | None) -> RawSplits:
    files = FILES[name]
    paths = find_files(name, [f.name for f in files], data_dir, SYSTEM_DIRS[name])
    if paths is None:
        target = cache_dir() / name
        paths = [download(f, MIRRORS[name], target) for f in files]
    train_x, train_y = read_idx_pair(paths[0], paths[1])
    test_x, test_y = read_idx_pair(paths[2], paths[3])
    return RawSplits(
        train=Split(train_x[:, None], train_y),  # (60000, 1, 28, 28)
        test=Split(test_x[:, None], test_y),  # (10000, 1, 28, 28)
        scale=255.0,
        location=str(paths[0].parent),
    )


def load_mnist(data_dir: Path | None = None) -> RawSplits:
    """MNIST (LeCun et al. 1998): 60k train / 10k test grey-level 28x28 digits."""
    return _load("mnist", data_dir)


def load_fashion_mnist(data_dir: Path | None = None) -> RawSplits:
    """Fashion-MNIST (Xiao et al. 2017): 60k train / 10k test 28x28 clothing images."""
    return _load("fashion-mnist", data_dir)
