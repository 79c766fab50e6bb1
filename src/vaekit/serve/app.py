"""The latent explorer's web app: a Starlette app over one ``Explorer``, its page and a JSON API.

Every answer is JSON. A bad value is a 400 with ``{"error": message}`` (the message the command
line would print), an upload over ``MAX_UPLOAD`` bytes a 413, an unknown path a 404: never a 500
for anything a request can say. Files are served only from the page's own three (no path from a
request ever reaches the file system), and the Host header must name this machine unless the
server was bound to every interface (DNS rebinding).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vaekit.errors import ConfigError, VaekitError
from vaekit.serve.explorer import Explorer

MAX_UPLOAD = 8 * 2**20  # bytes of an uploaded image
MAX_JSON = 2**20  # bytes of a JSON request
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) past ``limit`` bytes before more of it is read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the request holds {int(declared):,} bytes; at most {limit:,} are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the request holds more than {limit:,} bytes; at most {limit:,} are accepted")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request) -> dict[str, Any]:
    raw = await _body(request, MAX_JSON)
    try:
        value = json.loads(raw or b"{}", parse_constant=lambda c: float(c))  # NaN and Infinity reach the checks as floats
    except (ValueError, UnicodeDecodeError):
        raise ConfigError("the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ConfigError("the request body must be a JSON object")
    return value


def _known(body: dict[str, Any], *names: str) -> dict[str, Any]:
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise ConfigError(f"unknown field(s) {', '.join(map(repr, unknown))}; this endpoint takes: {', '.join(names)}")
    return body


def make_app(explorer: Explorer, allowed_hosts: list[str] | None = None) -> Starlette:
    """The app serving ``explorer``: the page at /, the API under /api/."""

    def endpoint(fn: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                return JSONResponse(await fn(request))
            except TooLarge as e:
                return JSONResponse({"error": str(e)}, status_code=413)
            except VaekitError as e:
                return JSONResponse({"error": " ".join(str(e).split())}, status_code=400)

        return handle

    async def info(request: Request) -> Any:
        return await run_in_threadpool(explorer.info)

    async def decode(request: Request) -> Any:
        body = _known(await _json(request), "z", "condition")
        z, y = explorer.latents(body.get("z")), explorer.condition(body.get("condition"))
        return {"images": await run_in_threadpool(explorer.decode, z, y)}

    async def sample(request: Request) -> Any:
        body = _known(await _json(request), "n", "temperature", "seed", "sampler", "condition")
        return await run_in_threadpool(explorer.sample, **body)

    async def encode(request: Request) -> Any:
        data = await _body(request, MAX_UPLOAD)
        if not data:
            raise ConfigError("send the image file itself as the request body (a png, jpg, bmp or webp)")
        condition = request.query_params.get("condition")  # a cvae's: JSON, as in the other requests' bodies
        if condition is not None:
            try:
                condition = json.loads(condition)
            except ValueError:
                raise ConfigError(f"'condition' must be JSON (a class index or a list of numbers), got {condition[:40]!r}") from None
        return await run_in_threadpool(explorer.encode_image, data, condition)

    async def example(request: Request) -> Any:
        index = request.query_params.get("index", "0")
        if not index.isdigit():
            raise ConfigError(f"'index' must be a whole number, got {index!r}")
        return await run_in_threadpool(explorer.example, int(index))

    async def attribute(request: Request) -> Any:
        body = _known(await _json(request), "name")
        return {"name": body.get("name"), "vector": await run_in_threadpool(explorer.attribute, body.get("name"))}

    async def difference(request: Request) -> Any:
        body = _known(await _json(request), "a", "b")
        return {"vector": explorer.difference(body.get("a"), body.get("b"))}

    async def interpolate(request: Request) -> Any:
        body = _known(await _json(request), "a", "b", "steps", "mode", "extrapolate", "condition")
        return await run_in_threadpool(explorer.interpolate, **body)

    async def latent_map(request: Request) -> Any:
        return await run_in_threadpool(explorer.latent_map, request.query_params.get("method", "pca"))

    async def map_point(request: Request) -> Any:
        body = _known(await _json(request), "x", "y", "method", "condition")
        point = (body.get("x"), body.get("y"), body.get("method", "pca"), body.get("condition"))
        return await run_in_threadpool(explorer.map_point, *point)

    async def static(request: Request) -> Response:
        name = request.path_params.get("name", "index.html")
        if name not in STATIC:
            return JSONResponse({"error": f"no such file: {name}"}, status_code=404)
        text = resources.files("vaekit.serve").joinpath("static", name).read_bytes()
        return Response(text, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    async def not_found(request: Request, exc: HTTPException) -> Response:
        return JSONResponse({"error": exc.detail or "not found"}, status_code=exc.status_code)

    routes = [
        Route("/", static),
        Route("/static/{name}", static),
        Route("/favicon.ico", lambda request: Response(status_code=204)),  # no icon; not a 404 in the console either
        Route("/api/info", endpoint(info)),
        Route("/api/decode", endpoint(decode), methods=["POST"]),
        Route("/api/sample", endpoint(sample), methods=["POST"]),
        Route("/api/encode", endpoint(encode), methods=["POST"]),
        Route("/api/example", endpoint(example)),
        Route("/api/attribute", endpoint(attribute), methods=["POST"]),
        Route("/api/difference", endpoint(difference), methods=["POST"]),
        Route("/api/interpolate", endpoint(interpolate), methods=["POST"]),
        Route("/api/map", endpoint(latent_map)),
        Route("/api/map/point", endpoint(map_point), methods=["POST"]),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: not_found})


def allowed_hosts(host: str) -> list[str] | None:
    """The Host headers to accept: this machine's names when bound to one address, any when bound to all."""
    if host in ("0.0.0.0", "::", ""):
        return None
    return sorted({*LOOPBACK, host})


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free port), or a one-line error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # connections inherit it: a response's header and body writes then leave at once, instead of the
    # body waiting for the client's delayed ACK (40 ms a request on a kept-alive connection)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port (0: any free one)") from None
    sock.listen(128)
    return sock


class Server:
    """The app on a uvicorn server in a background thread (tests, benchmarks, screenshots):
    ``with Server(app) as url: ...``."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.sock = bind(host, port)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the explorer's server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
