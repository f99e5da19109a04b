"""Where the exchange is: real Betfair or a local one (the emulator), and keeping a session to it."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import requests
from betfairlightweight import APIClient, BetfairError
from betfairlightweight.endpoints.streaming import Streaming
from betfairlightweight.exceptions import APIError, InvalidResponse, LoginError, StatusCodeError
from betfairlightweight.streaming import StreamListener
from flumine.clients import BetfairClient
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from core.errorcodes import REFUSED_LOGIN_CODES, SESSION_CODES, first_code, worth_retrying
from core.errors import ConfigError, CredentialsError
from core.stoppablestream import StoppableStream

logger = logging.getLogger("paddock.exchange")


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
    """betfairlightweight's streaming endpoint, connecting to a given host and port."""

    def __init__(self, parent: APIClient, host: str, port: int) -> None:
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


def transient(exc: BaseException) -> bool:
    """Whether a failed REST call is worth retrying: network trouble, 5xx, busy; never bad credentials or input."""
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, InvalidResponse)):
        return True
    if isinstance(exc, StatusCodeError):
        return str(exc.status_code).startswith("5")
    code = first_code(exc)
    if code is not None:
        return worth_retrying(code)
    if isinstance(exc, APIError) and getattr(exc, "response", None) is None:  # no answer: was it the network?
        return isinstance(getattr(exc, "exception", None), (requests.ConnectionError, requests.Timeout))
    return False


class SessionClient(BetfairClient):
    """flumine's Betfair client whose login retries transient failures, fails clearly on bad credentials,
    and renews the session when the exchange says it is no longer valid."""

    def __init__(self, *args, login_attempts: int = 4, login_wait_max: float = 8.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._login_lock = threading.Lock()
        self._login_attempts = login_attempts
        self._login_wait_max = login_wait_max
        self.logins = 0
        self.last_login = 0.0

    def login(self):
        """Log in (certificate or interactive), retrying transient failures with backoff."""
        with self._login_lock:
            attempts = Retrying(
                retry=retry_if_exception(transient),
                stop=stop_after_attempt(self._login_attempts),
                wait=wait_exponential(multiplier=0.5, max=self._login_wait_max),
                reraise=True,
            )
            try:
                for attempt in attempts:
                    with attempt:
                        response = (
                            self.betting_client.login_interactive()
                            if self.interactive_login
                            else self.betting_client.login()
                        )
            except (LoginError, APIError, InvalidResponse, StatusCodeError, requests.RequestException) as exc:
                code = first_code(exc) or type(exc).__name__
                if code in REFUSED_LOGIN_CODES:
                    raise CredentialsError(
                        f"Betfair login refused: {code} (check BETFAIR_USERNAME/PASSWORD/APP_KEY)"
                    ) from None
                raise CredentialsError(f"Betfair login failed: {code}") from None
            self.logins += 1
            self.last_login = time.monotonic()
            logger.info(
                "logged in to Betfair (%s login #%d)",
                "interactive" if self.interactive_login else "certificate",
                self.logins,
            )
            return response

    def renew_session(self, reason: str, min_interval: float = 1.0) -> bool:
        """Log in again after the exchange rejected the session; at most once per min_interval seconds."""
        if time.monotonic() - self.last_login < min_interval:
            return False
        logger.warning("session rejected (%s): logging in again", reason)
        try:
            self.login()
        except (CredentialsError, BetfairError) as exc:
            logger.error("session renewal failed: %s", exc)
            return False
        return True

    def check_session(self) -> None:
        """keepAlive; a refused session is renewed by logging in again (flumine only keeps alive by the clock)."""
        try:
            response = self.betting_client.keep_alive()
            ok = getattr(response, "status", "SUCCESS") == "SUCCESS"
        except BetfairError as exc:
            ok = first_code(exc) not in SESSION_CODES
        if not ok:
            self.renew_session("keepAlive refused")
