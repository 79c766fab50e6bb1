"""``vaekit serve RUN``: the latent explorer, a local web app on one trained run. The web packages
(the ``[serve]`` extra) are imported only when it runs, so the CLI loads without them."""

from __future__ import annotations

import ipaddress
import threading
import warnings
import webbrowser
from pathlib import Path

import tyro

from vaekit.errors import ConfigError
from vaekit.runtime.checks import at_least, integer

EXTRA = "pip install 'vaekit[serve]' (or pip install -e '.[serve]' in a checkout)"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_run(
    run_dir: tyro.conf.Positional[Path],
    host: str = "127.0.0.1",
    port: int = 8000,
    open: bool = False,  # noqa: A002  (the flag's name)
    examples: int = 2000,
    data_dir: Path | None = None,
    echo=print,  # noqa: ANN001
) -> None:
    """Explore a trained model in the browser: samples, sliders, attributes, interpolation, a map, uploads.

    Args:
        run_dir: A run directory written by `vaekit train`.
        host: Address to listen on; 127.0.0.1 keeps it on this machine (0.0.0.0 serves the network: a warning).
        port: Port to listen on (0: any free one).
        open: Open the page in the default browser.
        examples: Test examples on the map and behind the sliders' ranges.
        data_dir: Look for the run's dataset here first.
    """
    integer("port", port)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be in [0, 65535], got {port}")
    at_least("examples", examples, 2)
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise ConfigError(f"vaekit serve needs the web server packages of its extra: {EXTRA}") from None
    from vaekit.serve.app import allowed_hosts, bind, make_app
    from vaekit.serve.explorer import Explorer

    sock = bind(host, port)  # before the run loads: a taken port is said at once
    if not _loopback(host):
        warnings.warn(f"--host {host} serves this model to every machine that can reach this one; the explorer has no login", stacklevel=1)
    try:
        explorer = Explorer(Path(run_dir), data_dir, examples)
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{sock.getsockname()[1]}/"
        server = uvicorn.Server(uvicorn.Config(make_app(explorer, allowed_hosts(host)), log_level="warning", lifespan="off"))
        echo(f"serving {run_dir} at {url} (Ctrl-C stops)")
        if open:
            threading.Timer(1.0, webbrowser.open, [url]).start()
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # Ctrl-C is how a server is meant to stop: not an error
            pass
        echo("stopped")
    finally:
        sock.close()
