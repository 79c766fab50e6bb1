"""Face datasets from Sam Roweis's MATLAB files: Frey faces (28x20) and Olivetti faces (64x64)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from vaekit.data.raw import RawSplits, Split
from vaekit.data.sources import RemoteFile, cache_dir, download, find_files
from vaekit.errors import DataError

FREY = RemoteFile("frey_rawface.mat", "265a83a23adb081755cd3de375509828e690324d1d60f076b8ecebc840d59c64")
FREY_MIRRORS = ["https://cs.nyu.edu/~roweis/data/"]
FREY_TEST = 200  # the last 200 frames (the video's end) are the fixed test split
OLIVETTI = "olivettifaces.mat"


def _read_mat(path: Path, variable: str, shape: tuple[int, int]) -> np.ndarray:
    """One uint8 matrix of a MATLAB v5 file, checked against the expected shape."""
    import scipy.io

    try:
        content = scipy.io.loadmat(str(path))
    except (
        OSError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        NotImplementedError,
        zlib.error,
    ) as e:  # scipy's parser raises any of these
        raise DataError(f"{path}: cannot read as a MATLAB file ({type(e).__name__}: {e}); the file is corrupt, replace it") from None
    if variable not in content:
        raise DataError(f"{path}: has no variable '{variable}' (found {sorted(k for k in content if not k.startswith('__'))})")
    array = content[variable]
    if array.shape != shape or array.dtype != np.uint8:
        raise DataError(f"{path}: '{variable}' is {array.dtype} {array.shape}, expected uint8 {shape}")
    return array


def load_frey_faces(data_dir: Path | None = None) -> RawSplits:
    """Brendan Frey's 1965 video frames of one face, 28x20 grey levels; no labels."""
    paths = find_files("frey-faces", [FREY.name], data_dir)
    path = paths[0] if paths else download(FREY, FREY_MIRRORS, cache_dir() / "frey-faces")
    x = _read_mat(path, "ff", (560, 1965)).T.reshape(-1, 1, 28, 20)  # (1965, 1, 28, 20)
    return RawSplits(train=Split(x[:-FREY_TEST]), test=Split(x[-FREY_TEST:]), scale=255.0, location=str(path))


def load_olivetti_faces(data_dir: Path | None = None) -> RawSplits:
    """AT&T Olivetti faces: 40 people x 10 images of 64x64; labels are the person.

    Image 9 of each person is the test split and image 8 the validation split, so every person
    appears in every split (as for the attribute tools, which compare people).
    """
    paths = find_files("olivetti-faces", [OLIVETTI], data_dir)
    if paths is None:
        raise DataError(
            f"{OLIVETTI} not found (looked in --data-dir, $VAEKIT_DATA/olivetti_faces/ and the cache); "
            "put the file there or pass --data-dir DIR"
        )
    faces = _read_mat(paths[0], "faces", (4096, 400))
    x = np.ascontiguousarray(faces.T.reshape(400, 64, 64).transpose(0, 2, 1))[:, None]  # (400, 1, 64, 64), upright
    y = np.repeat(np.arange(40), 10)  # (400,)
    shot = np.tile(np.arange(10), 40)
    split = {name: Split(x[mask], y[mask]) for name, mask in (("train", shot < 8), ("valid", shot == 8), ("test", shot == 9))}
    return RawSplits(train=split["train"], valid=split["valid"], test=split["test"], scale=255.0, location=str(paths[0]))
