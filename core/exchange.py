"""Where the exchange is: real Betfair or a local one (the emulator), and pointing the clients at it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from betfairlightweight import APIClient
from betfairlightweight.endpoints.streaming import Streaming
from betfairlightweight.streaming import StreamListener

from core.errors import ConfigError
from core.stoppablestream import StoppableStream


@dataclass(frozen=True)
class ExchangeEndpoint:
    """A local exchange: REST base URL and the stream's host and port."""

    rest: str
    stream_host: str
    stream_port: int

    @classmethod
    def parse(cls, url: str, source: str = "--exchange") -> ExchangeEndpoint:
        """http://HOST:PORT[?stream_port=N]; the stream listens on PORT + 1 unless stream_port says otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{source}: {url!r} is not an http(s)://host:port URL")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            query = parse_qs(parts.query)
            stream_port = int(query["stream_port"][0]) if "stream_port" in query else port + 1
        except ValueError:
            raise ConfigError(f"{source}: {url!r} has a port that is not a number") from None
        rest = f"{parts.scheme}://{parts.hostname}:{port}{parts.path.rstrip('/')}"
        return cls(rest=rest, stream_host=parts.hostname, stream_port=stream_port)


class LocalStreaming(Streaming):
    """betfairlightweight's streaming endpoint making streams that stop safely; to a given host and port if any.

    Used for Betfair too (host None): the stop fix in StoppableStream matters against any exchange."""

    def __init__(self, parent: APIClient, host: str | None = None, port: int | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.port = port

    def create_stream(
        self, unique_id: int = 0, listener=None, timeout: float = 64, buffer_size: int = 1024, host: str | None = None
    ) -> StoppableStream:
        """A BetfairStream pointed at this host and port, safe to stop from another thread."""
        stream = StoppableStream(
            unique_id,
            listener if listener is not None else StreamListener(),
            app_key=self.client.app_key,
            session_token=self.client.session_token,
            timeout=timeout,
            buffer_size=buffer_size,
            host=host,
        )
        if self.host is not None:
            stream.host = self.host
            # betfairlightweight 2.24 keeps the port class-private and the host in a fixed table (DESIGN.md):
            # setting both on the created stream is the documented way to reach a local exchange.
            stream._BetfairStream__port = self.port
        return stream


def point_at(trading: APIClient, endpoint: ExchangeEndpoint) -> None:
    """Send every REST call and stream connection of a betfairlightweight client to a local exchange."""
    trading.identity_uri = f"{endpoint.rest}/api/"
    trading.identity_cert_uri = f"{endpoint.rest}/api/"
    trading.api_uri = f"{endpoint.rest}/exchange/"
    trading.navigation_uri = f"{endpoint.rest}/exchange/betting/rest/v1/en/navigation/menu.json"
    trading.streaming = LocalStreaming(trading, endpoint.stream_host, endpoint.stream_port)
