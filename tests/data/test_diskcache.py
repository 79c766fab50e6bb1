"""Decoded image folders kept on disk: the same tensors as decoding into RAM, invalidated by any
change to the files, rebuilt when damaged, safe to build from two processes, exact to resume from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.commands import RunConfig, resume, train
from vaekit.data import DataConfig, diskcache, load_dataset
from vaekit.errors import DataError

from conftest import assert_same_run, make_folder, tiny_run_config


def _load(root: Path, **options):
    return load_dataset(DataConfig(name=f"folder:{root}", image_size=16, **options))


def _same(a, b) -> None:
    for name in ("train", "valid", "test"):
        x, y = a.split(name), b.split(name)
        assert torch.equal(x.x, y.x) and torch.equal(x.labels, y.labels)
        assert (x.attributes is None and y.attributes is None) or torch.equal(x.attributes, y.attributes)
    assert a.classes == b.classes and a.notes == b.notes


def _cache_dirs(cache: Path) -> list[Path]:
    return sorted((cache / "folders").iterdir()) if (cache / "folders").is_dir() else []


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_cache_gives_the_tensors_of_decoding_into_memory(tmp_path, cache, monkeypatch):
    root = make_folder(tmp_path / "pets")
    first = _load(root, attributes=tmp_path / "attrs.csv")  # builds the cache
    (entry,) = _cache_dirs(cache)
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["shape"] == [24, 3, 16, 16] and meta["skipped"] == ["cats/broken.png (UnidentifiedImageError)"]
    assert "in memory, decoded once into" in first.source

    decoded = []
    real = diskcache._decode_all
    monkeypatch.setattr(diskcache, "_decode_all", lambda *a: decoded.append(1) or real(*a))
    again = _load(root, attributes=tmp_path / "attrs.csv")
    assert decoded == [] and again.source == first.source  # read back, nothing decoded
    _same(first, again)

    monkeypatch.setenv("VAEKIT_MEMORY_MAP", "always")
    mapped = _load(root, attributes=tmp_path / "attrs.csv")
    assert "memory-mapped from" in mapped.source and decoded == []
    _same(first, mapped)

    # the reference: decoding straight into RAM, with no cache at all (an unwritable cache directory)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("VAEKIT_CACHE", str(blocker))
    plain = _load(root, attributes=tmp_path / "attrs.csv")
    assert plain.source == f"{root} (in memory)"
    assert torch.equal(plain.train.x, first.train.x) and torch.equal(plain.test.labels, first.test.labels)
    assert "could not keep the decoded images" in plain.notes[0]


def test_a_changed_added_or_removed_file_gives_a_new_cache(tmp_path, cache):
    root = make_folder(tmp_path / "pets", attributes=False)
    before = _load(root)
    image = root / "cats" / "cats_2.png"
    Image.new("RGB", (24, 24), (0, 255, 0)).save(image)
    os.utime(image, ns=(1, 1))  # a new mtime, whatever the clock's resolution
    changed = _load(root)
    assert len(_cache_dirs(cache)) == 2
    green = (changed.train.x[:, 1].float().mean((1, 2)) > 200).sum() + (changed.test.x[:, 1].float().mean((1, 2)) > 200).sum()
    green += (changed.valid.x[:, 1].float().mean((1, 2)) > 200).sum()
    assert int(green) == 1 and int((before.train.x[:, 1].float().mean((1, 2)) > 200).sum()) == 0
    Image.new("RGB", (24, 24), (0, 0, 255)).save(root / "dogs" / "extra.png")
    assert len(_load(root).train) + len(_load(root).valid) + len(_load(root).test) == 25 and len(_cache_dirs(cache)) == 3
    (root / "dogs" / "extra.png").unlink()
    _load(root)
    assert len(_cache_dirs(cache)) == 3  # back to the previous files: the previous cache


@pytest.mark.parametrize("damage", ["truncate", "meta"])
def test_a_damaged_cache_is_rebuilt_with_a_note(tmp_path, cache, damage):
    root = make_folder(tmp_path / "pets", attributes=False)
    good = _load(root)
    (entry,) = _cache_dirs(cache)
    if damage == "truncate":
        array = entry / "images.npy"
        array.write_bytes(array.read_bytes()[:500])
    else:
        (entry / "meta.json").write_text('{"shape": [3, 3, 16, 16]')
    rebuilt = _load(root)
    assert f"the decoded cache {entry} was damaged" in rebuilt.notes[0]
    assert torch.equal(rebuilt.train.x, good.train.x) and torch.equal(rebuilt.test.x, good.test.x)
    assert _load(root).notes == good.notes  # and the rebuilt one is trusted again


def test_two_processes_building_the_same_cache_end_with_one_valid_copy(tmp_path, cache):
    root = make_folder(tmp_path / "pets", n_per_class=40, attributes=False)
    script = (
        "import sys; from vaekit.data import DataConfig, load_dataset\n"
        f"d = load_dataset(DataConfig(name='folder:{root}', image_size=16))\n"
        "print(len(d.train), int(d.train.x.sum()))\n"
    )
    env = {**os.environ, "VAEKIT_CACHE": str(cache)}
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1].decode()[-500:] for o in outputs]
    assert outputs[0][0] == outputs[1][0]
    (entry,) = _cache_dirs(cache)  # no second copy, no half-built directory left behind
    assert sorted(p.name for p in entry.iterdir()) == ["images.npy", "meta.json"]
    assert _load(root).train.x.sum().item() == int(outputs[0][0].split()[1])


def test_resume_from_a_memory_mapped_folder_is_bitwise_exact(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("VAEKIT_MEMORY_MAP", "always")
    root = make_folder(tmp_path / "pets", n_per_class=40, attributes=False)
    base = tiny_run_config(epochs=2)
    config = RunConfig(DataConfig(name=f"folder:{root}", image_size=16, channels=1), base.model, train=replace(base.train, batch_size=16))
    full = train(config, tmp_path / "full", images=False)
    part = train(config, tmp_path / "part", images=False, stop_at_step=3)
    assert part.interrupted
    resumed = resume(tmp_path / "part", images=False)
    assert resumed.progress.global_step == full.progress.global_step
    assert_same_run(tmp_path / "full", tmp_path / "part")
    assert "memory-mapped" in _load(root, channels=1).source
    assert np.load(_cache_dirs(cache)[0] / "images.npy", mmap_mode="r").shape[1:] == (1, 16, 16)


def test_a_large_uint8_npy_is_memory_mapped_and_gives_the_same_tensors(tmp_path, monkeypatch):
    images = np.random.default_rng(0).integers(0, 256, (40, 1, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    in_ram = load_dataset(DataConfig(name=f"npy:{tmp_path / 'x.npy'}"))
    monkeypatch.setenv("VAEKIT_MEMORY_MAP", "always")
    mapped = load_dataset(DataConfig(name=f"npy:{tmp_path / 'x.npy'}"))
    assert mapped.source.endswith("(memory-mapped)") and not in_ram.source.endswith("(memory-mapped)")
    for name in ("train", "valid", "test"):
        assert torch.equal(mapped.split(name).x, in_ram.split(name).x)
    np.save(tmp_path / "last.npy", images.transpose(0, 2, 3, 1).repeat(3, axis=-1))  # channels last cannot stay on disk
    with pytest.raises(DataError, match=r"channels-last; save it as \(N, C, H, W\)"):
        load_dataset(DataConfig(name=f"npy:{tmp_path / 'last.npy'}"))


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_a_large_uint8_npz_is_memory_mapped_stored_in_place_and_compressed_from_the_cache(tmp_path, cache, monkeypatch, save):
    images = np.random.default_rng(1).integers(0, 256, (50, 1, 8, 8), dtype=np.uint8)
    labels = np.arange(50) % 3
    save(tmp_path / "d.npz", x=images, y=labels)
    name = f"npz:{tmp_path / 'd.npz'}"
    in_ram = load_dataset(DataConfig(name=name))
    monkeypatch.setenv("VAEKIT_MEMORY_MAP", "always")
    mapped = load_dataset(DataConfig(name=name))
    assert mapped.source.endswith("(memory-mapped)") and not in_ram.source.endswith("(memory-mapped)")
    for split in ("train", "valid", "test"):
        assert torch.equal(mapped.split(split).x, in_ram.split(split).x)
        assert torch.equal(mapped.split(split).labels, in_ram.split(split).labels)
    copies = sorted((cache / "arrays").rglob("*.npy")) if (cache / "arrays").is_dir() else []
    if save is np.savez:
        assert copies == []  # mapped where it lies in the .npz
    else:
        (copy,) = copies  # decompressed once (the labels are small: read, not copied)
        assert np.array_equal(np.load(copy), images)
        stamp = copy.stat().st_mtime_ns
        load_dataset(DataConfig(name=name))
        assert copy.stat().st_mtime_ns == stamp  # reused
        copy.write_bytes(copy.read_bytes()[:200])  # damaged: made again, never trusted
        again = load_dataset(DataConfig(name=name))
        assert torch.equal(again.split("train").x, in_ram.split("train").x) and np.array_equal(np.load(copy), images)


@pytest.mark.parametrize("broken", [True, False])  # with an unreadable file (compacted) and without (one pass)
def test_each_cached_image_is_its_file_decoded_in_split_order(tmp_path, cache, monkeypatch, broken):
    from vaekit.data.folder import SPLIT_SEED
    from vaekit.data.images import load_image

    root = make_folder(tmp_path / "pets", attributes=False)
    if not broken:
        (root / "cats" / "broken.png").unlink()
    monkeypatch.setenv("VAEKIT_MEMORY_MAP", "always")
    d = _load(root)
    (entry,) = _cache_dirs(cache)
    names = json.loads((entry / "meta.json").read_text())["files"]
    listed = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix in (".png", ".jpg") and p.name != "broken.png")
    assert names == [listed[i] for i in np.random.default_rng(SPLIT_SEED).permutation(len(listed))]  # the split order
    everything = torch.cat([d.train.x, d.valid.x, d.test.x])
    for name, image in zip(names, everything, strict=True):
        assert np.array_equal(image.numpy(), load_image(root / name, 16, 3))
    assert sorted(p.name for p in entry.iterdir()) == ["images.npy", "meta.json"]

    # memory-mapped for real: a change to the cache file shows through tensors that were never written
    on_disk = np.load(entry / "images.npy", mmap_mode="r+")
    on_disk[-1] = 255 - on_disk[-1]
    on_disk.flush()
    assert torch.equal(d.test.x[-1], torch.from_numpy(255 - load_image(root / names[-1], 16, 3)))


def test_a_bad_memory_map_choice_is_one_clear_error(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("VAEKIT_MEMORY_MAP", "sometimes")
    with pytest.raises(DataError, match="VAEKIT_MEMORY_MAP='sometimes': use auto, always or never"):
        _load(make_folder(tmp_path / "pets", attributes=False))


def test_a_compressed_npz_still_loads_into_ram_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    images = np.random.default_rng(2).integers(0, 256, (30, 1, 8, 8), dtype=np.uint8)
    np.savez_compressed(tmp_path / "d.npz", x=images)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("VAEKIT_CACHE", str(blocker))
    monkeypatch.setenv("VAEKIT_MEMORY_MAP", "always")
    data = load_dataset(DataConfig(name=f"npz:{tmp_path / 'd.npz'}"))
    assert not data.source.endswith("(memory-mapped)")  # read into memory instead
    rows = torch.cat([data.train.x, data.valid.x, data.test.x])
    assert sorted(map(bytes, rows.numpy())) == sorted(map(bytes, images))


def _ram_and_swap_bytes() -> int:
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return sum(int(fields[k].split()[0]) * 1024 for k in ("MemTotal", "SwapTotal"))


@pytest.mark.skipif(not Path("/proc/meminfo").is_file(), reason="needs Linux's /proc/meminfo")
def test_a_cache_larger_than_ram_plus_swap_opens_read_only_and_gathers_batches(tmp_path):
    """200k images at 256x256 are 39 GB: a copy-on-write map of that is refused (ENOMEM) on a 24 GB machine.

    The array here is a sparse file twice RAM plus swap, so it costs no disk and no memory."""
    from vaekit.data.load import _tensors
    from vaekit.data.raw import Split

    n = 2 * _ram_and_swap_bytes() // (3 * 256 * 256) + 1
    directory = tmp_path / "cache"
    directory.mkdir()
    array = np.lib.format.open_memmap(directory / "images.npy", mode="w+", dtype=np.uint8, shape=(n, 3, 256, 256))
    array[-1, 0, 0, 0] = 7
    array.flush()
    del array
    if os.stat(directory / "images.npy").st_blocks * 512 > 2**30:
        pytest.skip("this file system does not keep sparse files")
    (directory / "meta.json").write_text(json.dumps({"version": diskcache.VERSION, "shape": [n, 3, 256, 256], "files": [""] * n}))
    images, meta = diskcache._open(directory)
    assert images.shape[0] == n and not images.flags.writeable
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "not writable" warning is expected and silenced, nothing else
        data = _tensors(Split(images), 255.0, dynamic=False)
    batch = data.batch(torch.tensor([0, n - 1]))
    assert batch.shape == (2, 3, 256, 256) and batch[1, 0, 0, 0].item() == pytest.approx(7 / 255)


BUILD_RSS = """
import resource, sys
from pathlib import Path
import numpy as np
from vaekit.data import diskcache
shape = (3, 128, 128)  # 48 KiB an image, 4000 images: 188 MiB of cache
image = np.full(shape, 7, dtype=np.uint8)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
final = Path(sys.argv[1]) / "cache"
diskcache._build(Path("."), [f"{i}.png" for i in range(4000)], lambda p: image, shape, np.arange, final, None)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
assert (np.load(final / "images.npy", mmap_mode="r")[::997] == 7).all()
print(grown // 1024)
"""


@pytest.mark.skipif(not hasattr(__import__("mmap"), "MADV_DONTNEED"), reason="needs madvise")
def test_building_the_cache_does_not_keep_the_written_array_resident(tmp_path):
    """The builder of a 39 GB cache peaked at 20 GiB RSS: written rows stayed mapped. Now they are released."""
    done = subprocess.run([sys.executable, "-c", BUILD_RSS, str(tmp_path)], capture_output=True, text=True, check=True)
    grown_mib = int(done.stdout.strip().splitlines()[-1])
    assert grown_mib < 60, f"the build grew the peak RSS by {grown_mib} MiB for a 188 MiB array"
