"""Image folders: recursive listing, crop and resize, labels from sub-folders, attributes, bad files."""

import json

import numpy as np
import pytest
from PIL import Image

from vaekit.data import DataConfig, load_dataset
from vaekit.errors import ConfigError, DataError

from conftest import cli, make_folder


def test_folder_labels_attributes_and_splits_stay_aligned(tmp_path):
    root = make_folder(tmp_path / "pets")
    d = load_dataset(DataConfig(name=f"folder:{root}", image_size=16, attributes=tmp_path / "attrs.csv"))
    assert d.shape == (3, 16, 16) and (len(d.train), len(d.valid), len(d.test)) == (20, 2, 2)
    assert d.classes == ("cats", "dogs") and d.attribute_names == ("Smiling", "Is_Cat")
    assert d.notes == (
        "skipped 1 unreadable file(s): cats/broken.png (UnidentifiedImageError)",
        "skipped 1 non-image file(s): dogs/readme.txt",
    )
    for split in (d.train, d.valid, d.test):
        red = split.x[:, 0].float().mean((1, 2)) > split.x[:, 2].float().mean((1, 2))
        assert (red == (split.labels == 0)).all()  # the image, its label ...
        assert (split.attributes[:, 1].bool() == red).all()  # ... and its attributes moved together
    all_smiling = sum(int(s.attributes[:, 0].sum()) for s in (d.train, d.valid, d.test))
    assert all_smiling == 8  # i in 0, 3, 6, 9 of each class; -1 became 0
    again = load_dataset(DataConfig(name=f"folder:{root}", image_size=16, attributes=tmp_path / "attrs.csv"))
    assert (again.test.x == d.test.x).all()  # fixed splits


def test_folder_grey_and_flat(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(5):
        Image.new("L", (30, 10), 40 * i).save(root / f"{i}.bmp")
    d = load_dataset(DataConfig(name=f"folder:{root}", image_size=8, channels=1))
    assert d.shape == (1, 8, 8) and d.train.labels is None and d.classes is None


def test_folder_problems(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        load_dataset(DataConfig(name=f"folder:{tmp_path / 'nope'}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_dataset(DataConfig(name=f"folder:{tmp_path / 'empty'}"))
    root = make_folder(tmp_path / "pets")
    Image.new("RGB", (8, 8)).save(root / "loose.png")
    with pytest.raises(DataError, match=r"some images are in sub-folders .*loose.png"):
        load_dataset(DataConfig(name=f"folder:{root}", image_size=8))
    (root / "loose.png").unlink()
    csv = tmp_path / "attrs.csv"
    csv.write_text("\n".join(csv.read_text().splitlines()[:-3]) + "\n")  # three images lose their rows
    with pytest.raises(DataError, match=r"attrs.csv: 3 image\(s\) have no row"):
        load_dataset(DataConfig(name=f"folder:{root}", image_size=8, attributes=csv))
    csv.write_text("image_id,Smiling\ncats_0.jpg,yes\n")
    with pytest.raises(DataError, match=r"attrs.csv, line 2: attribute values must be 0/1 or -1/1"):
        load_dataset(DataConfig(name=f"folder:{root}", image_size=8, attributes=csv))
    with pytest.raises(ConfigError, match="--attributes goes with --data folder:PATH"):
        DataConfig(name="digits", attributes=csv)


def test_conv_vae_trains_on_a_generated_image_folder(tmp_path, capsys):
    root = make_folder(tmp_path / "pets", n_per_class=40, attributes=False)
    out = tmp_path / "run"
    code, _, err = cli(
        capsys,
        "train",
        "--data",
        f"folder:{root}",
        "--image-size",
        32,
        "--arch",
        "conv",
        "--width",
        8,
        "--latent-dim",
        4,
        "--epochs",
        15,
        "--batch-size",
        16,
        "--no-progress",
        "--out",
        out,
    )
    assert code == 0, err
    assert "note: skipped 1 unreadable file(s): cats/broken.png" in err
    lines = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["valid_loss"] < lines[0]["valid_loss"]
    assert Image.open(out / "images" / "samples_0015.png").mode == "RGB"


def test_attribute_vectors_from_a_folder_attribute_file(tmp_path, capsys):
    root = make_folder(tmp_path / "pets", n_per_class=30)
    out = tmp_path / "run"
    assert (
        cli(
            capsys,
            "train",
            "--data",
            f"folder:{root}",
            "--attributes",
            tmp_path / "attrs.csv",
            "--image-size",
            8,
            "--hidden",
            32,
            "--latent-dim",
            3,
            "--epochs",
            5,
            "--no-progress",
            "--no-images",
            "--out",
            out,
        )[0]
        == 0
    )
    for spec in ("Smiling", "is_cat=1", "label=cats"):
        code, _, err = cli(capsys, "attribute", out, "--attribute", spec, "--inputs", "0,1", "--out", tmp_path / "a.png")
        assert code == 0, err
    code, _, _ = cli(
        capsys,
        "attribute",
        out,
        "--attribute",
        "Is_Cat",
        "--save-vector",
        tmp_path / "cat.npy",
        "--inputs",
        "0",
        "--out",
        tmp_path / "b.png",
    )
    assert code == 0 and np.load(tmp_path / "cat.npy").shape == (3,)


def test_encode_another_dataset_with_a_folder_attribute_run(tmp_path, capsys):
    root = make_folder(tmp_path / "pets")
    out = tmp_path / "run"
    assert (
        cli(
            capsys,
            "train",
            "--data",
            f"folder:{root}",
            "--attributes",
            tmp_path / "attrs.csv",
            "--image-size",
            8,
            "--hidden",
            16,
            "--latent-dim",
            2,
            "--epochs",
            1,
            "--no-progress",
            "--no-images",
            "--out",
            out,
        )[0]
        == 0
    )
    np.save(tmp_path / "other.npy", np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3), dtype=np.uint8))
    code, _, err = cli(capsys, "encode", out, "--data", f"npy:{tmp_path / 'other.npy'}", "--out", tmp_path / "z.npz")
    assert code == 0, err  # the run's --attributes file does not follow to another dataset
    assert np.load(tmp_path / "z.npz")["mu"].shape == (2, 2)  # its test split: the last tenth of 20


def test_a_decompression_bomb_in_a_folder_is_reported_and_skipped(tmp_path):
    root = make_folder(tmp_path / "pets", attributes=False)
    Image.new("L", (12_000, 12_000)).save(root / "cats" / "bomb.png")  # 144 megapixels, a few KB on disk
    d = load_dataset(DataConfig(name=f"folder:{root}", image_size=8))
    skipped = d.notes[0]
    assert "skipped 2 unreadable file(s)" in skipped and "bomb.png (12000x12000 pixels, over the limit of 89,478,485)" in skipped
    assert len(d.train) + len(d.valid) + len(d.test) == 24
