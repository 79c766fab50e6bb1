"""The explorer on conditional runs (cvae): every image is decoded with the condition the request
carries (a class index, or one number per attribute), an example brings its own, and a missing or
malformed condition is a 400 with a message."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import replace

import pytest
import torch

from vaekit import run
from vaekit.commands import train
from vaekit.generation import one_hot_labels

from conftest import tiny_faces_cvae_config, tiny_run_config

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from test_api import call, png  # noqa: E402

from vaekit.serve.app import Server, allowed_hosts, make_app  # noqa: E402
from vaekit.serve.explorer import Explorer, png_url  # noqa: E402


@pytest.fixture(scope="module")
def label_cvae(tmp_path_factory):
    """A small digits cvae conditioned on the class, served; (url, explorer)."""
    run_dir = tmp_path_factory.mktemp("serve-cvae") / "digits-cvae"
    config = tiny_run_config(epochs=2)
    train(replace(config, model=replace(config.model, kind="cvae")), run_dir, images=False)
    explorer = Explorer(run_dir, map_examples=200)
    with Server(make_app(explorer, allowed_hosts("127.0.0.1"))) as url:
        yield url, explorer


def decoded(explorer: Explorer, z: list[float], y: torch.Tensor) -> str:
    with torch.no_grad():
        return png_url(explorer.model.decode(torch.tensor([z]), y).mean[0])


def test_a_label_cvae_decodes_with_the_class_the_request_names(label_cvae):
    url, explorer = label_cvae
    code, info = call(url + "/api/info")
    assert code == 200 and info["condition"] == {"kind": "label", "classes": [str(c) for c in range(10)]}
    assert info["attributes"] == []  # the class control is the edit; z holds the style
    z = [0.5, -1.0, 0.0, 1.0]
    images = {c: call(url + "/api/decode", {"z": [z], "condition": c})[1]["images"][0] for c in (3, 7)}
    assert images[3] != images[7]
    for c, image in images.items():
        assert image == decoded(explorer, z, one_hot_labels([c], 10))  # exactly the model's decoding of (z, y)
    code, e = call(url + "/api/example?index=5")
    label = int(explorer.examples.labels[5])
    assert code == 200 and e["condition"] == label and e["label"] == str(label)
    assert e["image"] == decoded(explorer, e["z"], one_hot_labels([label], 10))  # encoded and decoded with its own class
    code, s = call(url + "/api/sample", {"n": 3, "seed": 1, "condition": 4})
    assert code == 200 and all(i == decoded(explorer, zi, one_hot_labels([4], 10)) for zi, i in zip(s["z"], s["images"], strict=True))
    code, path = call(url + "/api/interpolate", {"a": [0.0] * 4, "b": [1.0] * 4, "steps": 3, "condition": 2})
    assert code == 200 and path["images"][-1] == decoded(explorer, [1.0] * 4, one_hot_labels([2], 10))
    code, p = call(url + "/api/map/point", {"x": 0.0, "y": 0.0, "condition": 9})
    assert code == 200 and p["image"] == decoded(explorer, p["z"], one_hot_labels([9], 10))
    code, u = call(url + "/api/encode?condition=" + urllib.parse.quote(json.dumps(1)), raw=png())
    assert code == 200 and u["image"] == decoded(explorer, u["z"], one_hot_labels([1], 10))


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/decode", {"z": [[0.0] * 4]}, "conditioned on class labels: send 'condition', a class index 0..9"),
        ("/api/decode", {"z": [[0.0] * 4], "condition": 10}, r"'condition' must be a whole number in \[0, 9\]"),
        ("/api/decode", {"z": [[0.0] * 4], "condition": True}, r"'condition' must be a whole number in \[0, 9\]"),
        ("/api/decode", {"z": [[0.0] * 4], "condition": [0, 1]}, r"'condition' must be a whole number in \[0, 9\]"),
        ("/api/sample", {"n": 2}, "send 'condition'"),
        ("/api/interpolate", {"a": [0.0] * 4, "b": [1.0] * 4, "condition": -1}, "'condition' must be a whole number"),
        ("/api/map/point", {"x": 0, "y": 0, "condition": "3"}, "'condition' must be a whole number"),
    ],
)
def test_a_missing_or_bad_class_is_a_400_with_a_message(label_cvae, path, body, message):
    import re

    code, r = call(label_cvae[0] + path, body)
    assert code == 400 and re.search(message, r["error"]), r


def test_an_upload_to_a_cvae_needs_its_condition(label_cvae):
    url, _ = label_cvae
    code, r = call(url + "/api/encode", raw=png())
    assert code == 400 and "send 'condition'" in r["error"]
    code, r = call(url + "/api/encode?condition=" + urllib.parse.quote("{three"), raw=png())
    assert code == 400 and "'condition' must be JSON" in r["error"]


def test_an_attribute_cvae_decodes_with_the_attributes_sent(tmp_path):
    out = tmp_path / "faces-cvae"
    train(tiny_faces_cvae_config(), out, images=False)
    explorer = Explorer(out, map_examples=50)
    names = list(run.load_splits(out).attribute_names)
    info = explorer.info()
    assert info["condition"] == {"kind": "attributes", "names": names, "range": [-3.0, 3.0]} and info["attributes"] == []
    e = explorer.example(3)
    assert e["condition"] == explorer.examples.attributes[3].tolist()
    smiling = [1.0] + [0.0] * (len(names) - 1)
    y = explorer.condition(smiling)
    assert explorer.decode(torch.tensor([e["z"]]), y) == [decoded(explorer, e["z"], torch.tensor([smiling]))]
    bad_values = (
        ([0.0] * 3, "a list of 9 numbers"),
        ([9.0] * 9, r"must lie in \[-3, 3\]"),
        ([float("nan")] * 9, "must be a finite number"),
    )
    for bad, message in (*bad_values, (["1"] * 9, "must be a finite number"), (None, "send")):
        with pytest.raises(Exception, match=message):
            explorer.condition(bad)


def test_an_unconditional_run_refuses_a_condition(tmp_path):
    train(tiny_run_config(epochs=1), tmp_path / "vae", images=False)
    explorer = Explorer(tmp_path / "vae", map_examples=50)
    assert explorer.info()["condition"] is None and explorer.example(0)["condition"] is None
    with pytest.raises(Exception, match="'condition' is for conditional models"):
        explorer.condition(3)
