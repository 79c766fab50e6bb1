"""`vaekit serve` on the command line: it serves a run until Ctrl-C, and refuses a taken or bad port,
a missing extra and a run it cannot show with one line and exit 2."""

from __future__ import annotations

import builtins
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from conftest import assert_user_error

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def test_serve_serves_the_run_until_interrupted(tiny_digits_run):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "vaekit", "serve", str(tiny_digits_run), "--port", "0", "--examples", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stderr.readline()  # progress lines go to stderr, as training's do
        assert line.startswith(f"serving {tiny_digits_run} at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "api/info", timeout=60) as response:
            assert json.loads(response.read())["latent_dim"] == 4
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in err, err


def test_a_taken_port_bad_values_and_a_missing_extra_are_one_line_errors(tiny_digits_run, capsys, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert_user_error(capsys, ["serve", tiny_digits_run, "--port", port], rf"cannot listen on 127.0.0.1:{port} .*pick another --port")
    assert_user_error(capsys, ["serve", tiny_digits_run, "--port", 70000], r"--port must be in \[0, 65535\]")
    assert_user_error(capsys, ["serve", tiny_digits_run, "--examples", 1], "examples")
    real_import = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    assert_user_error(capsys, ["serve", tiny_digits_run], r"needs the web server packages of its extra: pip install 'vaekit\[serve\]'")
