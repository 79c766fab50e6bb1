"""The explorer's JSON API on a real server: every endpoint with good input, bad input (400 and a
message), path traversal (refused), oversize bodies (413), a foreign Host header, several clients."""

from __future__ import annotations

import base64
import http.client
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from vaekit.commands import train
from vaekit.errors import ConfigError

from conftest import tiny_run_config

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from vaekit.serve.app import MAX_UPLOAD, Server, allowed_hosts, make_app  # noqa: E402
from vaekit.serve.explorer import Explorer  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A small labelled digits VAE, served on a free port; (url, explorer)."""
    run_dir = tmp_path_factory.mktemp("serve") / "digits"
    train(tiny_run_config(epochs=2), run_dir, images=False)
    explorer = Explorer(run_dir, map_examples=300)
    with Server(make_app(explorer, allowed_hosts("127.0.0.1"))) as url:
        yield url, explorer


def call(url: str, body=None, raw: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def png(size=(20, 16), mode="L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 200).save(out, "PNG")
    return out.getvalue()


def is_png(url: str, side: int = 8) -> bool:
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    return image.size == (side, side)


def test_info_describes_the_run(served):
    url, explorer = served
    code, info = call(url + "/api/info")
    assert code == 200 and info["latent_dim"] == 4 and info["shape"] == [1, 8, 8] and info["samplers"] == ["prior"]
    assert info["attributes"] == [f"label={c}" for c in range(10)] and sorted(info["order"]) == [0, 1, 2, 3]
    assert [info["kl"][d] for d in info["order"]] == sorted(info["kl"], reverse=True)  # most KL first
    assert info["centre"] == [0.0] * 4 and info["scale"] == [1.0] * 4  # the N(0, I) prior's ±3 sd


def test_decode_sample_example_attribute_interpolate_and_map(served):
    url, _ = served
    code, r = call(url + "/api/decode", {"z": [[0.0] * 4, [1.0, -1.0, 0.5, 2.0]]})
    assert code == 200 and len(r["images"]) == 2 and all(is_png(i) for i in r["images"]) and r["images"][0] != r["images"][1]
    code, a = call(url + "/api/sample", {"n": 5, "temperature": 0.7, "seed": 3})
    _, b = call(url + "/api/sample", {"n": 5, "temperature": 0.7, "seed": 3})
    assert code == 200 and len(a["z"]) == 5 and a == b and a["sampler"] == "prior"  # the same seed, the same samples
    code, e = call(url + "/api/example?index=7")
    assert code == 200 and e["index"] == 7 and len(e["z"]) == 4 and e["label"] in {str(c) for c in range(10)} and is_png(e["input"])
    code, v = call(url + "/api/attribute", {"name": "label=3"})
    assert code == 200 and len(v["vector"]) == 4 and any(x != 0 for x in v["vector"])
    code, d = call(url + "/api/difference", {"a": [[1.0] * 4, [3.0] * 4], "b": [[0.0] * 4]})
    assert code == 200 and d["vector"] == [2.0] * 4
    code, path = call(url + "/api/interpolate", {"a": [0.0] * 4, "b": [1.0] * 4, "steps": 5, "mode": "slerp", "extrapolate": 0.5})
    assert code == 200 and path["t"] == [-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5] and len(path["images"]) == 9
    code, m = call(url + "/api/map")
    assert code == 200 and m["method"] == "pca" and len(m["points"]) == 300 and len(m["labels"]) == 300
    code, p = call(url + "/api/map/point", {"x": 0.0, "y": 0.0})
    assert code == 200 and p["z"] == pytest.approx(m["mean"], abs=1e-5)  # the map's centre decodes the mean code


def test_the_map_is_computed_once_and_cached_in_the_run(served, tmp_path):
    _, explorer = served
    path = explorer.run_dir / "explorer" / "map-pca.json"
    explorer.latent_map("pca")
    assert path.is_file()
    again = Explorer(explorer.run_dir, map_examples=300)
    assert again.latent_map("pca")["points"] == explorer.latent_map("pca")["points"]
    path.write_text("{damaged")  # a damaged cache is recomputed, never trusted
    rebuilt = Explorer(explorer.run_dir, map_examples=300).latent_map("pca")["points"]
    assert np.allclose(rebuilt, explorer.latent_map("pca")["points"], atol=1e-6) and json.loads(path.read_text())["examples"] == 300


def test_an_upload_is_resized_like_the_data_encoded_and_reconstructed(served):
    url, _ = served
    code, r = call(url + "/api/encode", raw=png((40, 30), "RGB"))
    assert code == 200 and len(r["z"]) == 4 and is_png(r["input"]) and is_png(r["image"])


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/decode", {"z": [[float("nan")] * 4]}, "'z' must be a finite number, got nan"),
        ("/api/decode", {"z": [[1e9] * 4]}, r"'z' must lie in \[-1000, 1000\]"),
        ("/api/decode", {"z": [[0.0] * 3]}, "every latent must be a list of 4 numbers"),
        ("/api/decode", {"z": [[0.0] * 4] * 65}, "a list of 1 to 64 latents"),
        ("/api/decode", {"z": [[0.0] * 4], "extra": 1}, "unknown field.*'extra'"),
        ("/api/decode", [1, 2], "must be a JSON object"),
        ("/api/sample", {"n": 0}, r"'n' must be a whole number in \[1, 64\]"),
        ("/api/sample", {"temperature": -1}, r"'temperature' must lie in \[0, 5\]"),
        ("/api/sample", {"temperature": "hot"}, "'temperature' must be a finite number"),
        ("/api/sample", {"sampler": "gmm"}, "'sampler' must be one of: prior"),
        ("/api/attribute", {"name": "label=12"}, "'name' must be one of: label=0"),
        ("/api/interpolate", {"a": [0.0] * 4, "b": [1.0] * 4, "steps": 1}, r"'steps' must be a whole number in \[2, 64\]"),
        ("/api/interpolate", {"a": [0.0] * 4, "b": [1.0] * 4, "mode": "cubic"}, "'mode' must be one of: lerp, slerp"),
        ("/api/interpolate", {"a": [0.0] * 4, "b": [1.0] * 4, "extrapolate": float("inf")}, "'extrapolate' must be a finite number"),
        ("/api/difference", {"a": [], "b": [[0.0] * 4]}, "'a' must be a list of 1 to 64 latents"),
        ("/api/map/point", {"x": "left", "y": 0}, "'x' must be a finite number"),
        ("/api/map/point", {"x": 0, "y": 0, "method": "umap"}, "'method' must be one of: pca, tsne"),
    ],
)
def test_bad_values_are_400s_with_a_message(served, path, body, message):
    import re

    url, _ = served
    code, r = call(url + path, body)
    assert code == 400 and re.search(message, r["error"]), r


def test_bad_bodies_queries_and_uploads(served):
    url, _ = served
    assert call(url + "/api/decode", raw=b"{not json")[1] == {"error": "the request body is not valid JSON"}
    code, r = call(url + "/api/decode", raw=b'{"z": [[NaN, 0, 0, 0]]}')  # what JSON.stringify never sends, a script might
    assert code == 400 and "finite" in r["error"]
    assert call(url + "/api/example?index=-1")[0] == 400 and call(url + "/api/example?index=300")[0] == 400
    assert call(url + "/api/map?method=x")[0] == 400
    code, r = call(url + "/api/encode", raw=b"GIF89a but not really")
    assert code == 400 and "the uploaded image: cannot read as an image" in r["error"]
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, "PNG")  # 144 megapixels in a few kilobytes
    code, r = call(url + "/api/encode", raw=bomb.getvalue())
    assert len(bomb.getvalue()) < MAX_UPLOAD and code == 400 and "too large to decode" in r["error"]


def test_an_oversize_upload_is_refused_before_it_is_read(served):
    host, port = urllib.parse.urlsplit(served[0]).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/api/encode")
    connection.putheader("Content-Length", str(MAX_UPLOAD + 1))
    connection.endheaders()  # no body sent: the answer comes from the header alone
    response = connection.getresponse()
    assert response.status == 413 and "at most 8,388,608 are accepted" in json.loads(response.read())["error"]


@pytest.mark.parametrize(
    "path", ["/static/../../etc/passwd", "/static/..%2F..%2Fetc%2Fpasswd", "/static/%2Fetc%2Fpasswd", "/../config.json"]
)
def test_no_path_reaches_the_file_system(served, path):
    code, r = call(served[0] + path)
    assert code == 404 and "root:" not in json.dumps(r)


def test_the_page_and_its_files_are_served_with_nothing_from_elsewhere(served):
    url, _ = served
    for path in ("/", "/static/app.js", "/static/app.css"):
        with urllib.request.urlopen(url + path) as response:
            text = response.read().decode()
            assert response.status == 200 and "http://" not in text and "https://" not in text  # no CDN


def test_a_foreign_host_header_is_refused(served):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(served[0] + "/api/info", headers={"Host": "evil.example"}))
    assert e.value.code == 400
    assert allowed_hosts("0.0.0.0") is None and "localhost" in allowed_hosts("127.0.0.1")


def test_several_clients_at_once(served):
    url, _ = served

    def decode(i: int) -> str:
        return call(url + "/api/decode", {"z": [[i / 10] * 4]})[1]["images"][0]

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(decode, range(16)))
    assert together == [decode(i) for i in range(16)]


def test_runs_the_explorer_cannot_show_are_refused(tmp_path):
    from vaekit.commands import RunConfig
    from vaekit.data import DataConfig
    from vaekit.models import ModelConfig
    from vaekit.training import TrainConfig

    np.save(tmp_path / "rows.npy", np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32))
    config = RunConfig(
        DataConfig(name=f"npy:{tmp_path / 'rows.npy'}"), ModelConfig(hidden=(8,), latent_dim=2), train=TrainConfig(epochs=1, progress=False)
    )
    train(config, tmp_path / "rows", images=False)
    with pytest.raises(ConfigError, match="shows images; the data of .* are rows of shape \\(5,\\)"):
        Explorer(tmp_path / "rows")


def test_the_listening_socket_sends_small_writes_at_once():
    """TCP_NODELAY, inherited by every connection: without it a kept-alive connection waited 40 ms
    for a delayed ACK on each response (bench/serve_latency.py measured 44 ms a decode, 1.4 ms with it)."""
    import socket

    from vaekit.serve.app import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()


def test_a_tsne_map_point_is_the_nearest_example_s_code(served):
    url, explorer = served
    code, m = call(url + "/api/map?method=tsne")
    assert code == 200 and m["method"] == "tsne" and len(m["points"]) == 300 and "axes" not in m  # t-SNE has no inverse
    x, y = m["points"][17]
    code, p = call(url + "/api/map/point", {"x": x, "y": y, "method": "tsne"})
    assert code == 200 and p["z"] == explorer.codes[17].tolist()


def test_a_fitted_sampler_is_offered_and_read_once(served, monkeypatch):
    from vaekit import run
    from vaekit.commands import fit_sampler_run

    _, explorer = served
    fit_sampler_run(explorer.run_dir, sampler="gmm", components=2)
    assert explorer.samplers() == ["prior", "gmm"]
    reads = []
    original = run.load_sampler
    monkeypatch.setattr(run, "load_sampler", lambda *a: reads.append(a) or original(*a))
    first, again = explorer.sample(n=3, seed=1, sampler="gmm"), explorer.sample(n=3, seed=1, sampler="gmm")
    assert first["sampler"] == "gmm" and first["z"] == again["z"] and len(reads) == 1
