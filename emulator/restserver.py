"""The REST API served by uvicorn on a listening socket bound beforehand, inside the emulator's event loop."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from emulator.exchange import Exchange
from emulator.rest import build_app

# Idle keep-alive connections stay open (http.server never closed them): closing one while a client
# reuses it from its pool would fail that call, an order placement as likely as any.
KEEP_ALIVE_SECONDS = 3600


class _Server(uvicorn.Server):
    """uvicorn's server without signal handlers: `main.py emulate` handles SIGINT and SIGTERM itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave the process's signal handlers alone."""
        yield


class RestServer:
    """HTTP server for the REST API: Starlette on uvicorn."""

    def __init__(self, exchange: Exchange, sock: socket.socket) -> None:
        self.exchange = exchange
        self.sock = sock
        self.app = build_app(exchange)
        config = uvicorn.Config(
            self.app,
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,  # the application configures logging, not uvicorn
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self.server = _Server(config)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.sock.getsockname()[1]

    async def serve(self) -> None:
        """Serve until stop() is called."""
        await self.server.serve(sockets=[self.sock])

    def stop(self) -> None:
        """Ask serve() to return soon, without waiting for open connections (call on the loop)."""
        self.server.should_exit = True
        self.server.force_exit = True
