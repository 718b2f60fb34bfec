"""Where the server is assembled: the fake Klaviyo with its control API, and the dashboard beside it.

``create_app`` is the whole app a socket serves; ``RunningEmulator`` serves it on a real socket in a background
thread, for tests, the demo, replay and embedding; ``listen`` and ``serve`` serve an app in the foreground, for
``trifft-klaviyo emulator``.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Literal

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from . import dashboard, klaviyo
from .klaviyo import Emulator


def create_app(emulator: Emulator | None = None) -> Starlette:
    """The fake Klaviyo (``/api``, ``/_emulator/``) with the dashboard at ``/``."""
    emulator = emulator or Emulator()
    return klaviyo.create_app(emulator, beside=dashboard.routes(emulator))


def _server(app: ASGIApp, lifespan: Literal["on", "off"] = "off") -> uvicorn.Server:
    # The emulator logs its own line per request: uvicorn's access log would repeat it.
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan))


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port. OSError when the port is busy or the host unknown, before anything runs."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


def url_of(listener: socket.socket) -> str:
    """The base URL a listening socket serves, an IPv6 host in brackets."""
    host, port = listener.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def serve(app: ASGIApp, listener: socket.socket, lifespan: Literal["on", "off"] = "off") -> None:
    """Serve ``app`` on ``listener`` in this thread until Ctrl-C (or SIGTERM), then close the listener."""
    try:
        _server(app, lifespan).run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()


class RunningEmulator:
    """A uvicorn server on 127.0.0.1 (a free port unless one is given), serving ``emulator`` until ``stop()``;
    ``app`` serves something else built on the same state (the proxy)."""

    def __init__(
        self,
        emulator: Emulator | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        app: Starlette | None = None,
    ) -> None:
        self.emulator = emulator or Emulator()
        # Bound here and handed to uvicorn: probing for a free port and binding it later lets another process
        # take it in between (tests run in parallel).
        self._socket = socket.create_server((host, port))
        self.host, self.port = host, self._socket.getsockname()[1]
        # An app of its own (the proxy) gets its lifespan, so it can close its upstream client on shutdown.
        self._server = _server(app, lifespan="on") if app is not None else _server(create_app(self.emulator))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="fake-klaviyo", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> RunningEmulator:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fake Klaviyo did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> RunningEmulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
