"""The Exchange Stream API's TLS server on asyncio: one coroutine per connection, refusals after a dropped stream.

Without a certificate it serves plain TCP: `emulate --stream-plain-port`, on 127.0.0.1 only, for clients that
cannot be told to trust a local CA."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

from emulator.exchange import Exchange
from emulator.stream import AUTH_SECONDS, CLOSE_SECONDS, LINE_LIMIT, StreamConnection

HANDSHAKE_SECONDS = 10.0  # a connection that has not finished its TLS handshake by then is dropped


class StreamServer:
    """TLS server speaking the Exchange Stream API on a listening socket bound beforehand.

    A connection has min(HANDSHAKE_SECONDS, auth_timeout) for its TLS handshake, then auth_timeout to authenticate."""

    def __init__(
        self,
        exchange: Exchange,
        cert: Path | None,
        key: Path | None,
        sock: socket.socket,
        auth_timeout: float = AUTH_SECONDS,
    ) -> None:
        self.exchange = exchange
        self.sock = sock
        self.auth_timeout = auth_timeout
        self.context: ssl.SSLContext | None = None
        if cert is not None and key is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(str(cert), str(key))
        self.connections: set[StreamConnection] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.sock.getsockname()[1]

    async def start(self) -> None:
        """Accept connections on the running loop."""
        tls = {}
        if self.context is not None:
            tls = {
                "ssl": self.context,
                "ssl_handshake_timeout": min(HANDSHAKE_SECONDS, self.auth_timeout),
                "ssl_shutdown_timeout": CLOSE_SECONDS,  # a closed connection whose client does not answer the close
            }
        self._server = await asyncio.start_server(self._connected, sock=self.sock, limit=LINE_LIMIT, **tls)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.exchange.refusing():  # after a drop_stream fault: the client sees the socket close at once
            writer.transport.abort()
            return
        connection = StreamConnection(reader, writer, self.exchange, asyncio.get_running_loop(), self.auth_timeout)
        self.connections.add(connection)
        try:
            await connection.serve()
        finally:
            self.connections.discard(connection)

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.abort()
        if self._server is not None:
            await self._server.wait_closed()
        else:
            self.sock.close()
