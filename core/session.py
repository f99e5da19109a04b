"""Keeping a Betfair session: credentials from the environment, login with retries, renewal when rejected."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import requests
from betfairlightweight import APIClient, BetfairError
from betfairlightweight.exceptions import APIError, InvalidResponse, LoginError, StatusCodeError
from flumine.clients import BetfairClient
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from core.errorcodes import REFUSED_LOGIN_CODES, SESSION_CODES, first_code, worth_retrying
from core.errors import CredentialsError
from core.exchange import ExchangeEndpoint, LocalStreaming, point_at
from core.redact import redactor

logger = logging.getLogger("paddock.exchange")

CREDENTIAL_VARIABLES = ("BETFAIR_USERNAME", "BETFAIR_PASSWORD", "BETFAIR_APP_KEY")
CERTS_VARIABLE = "BETFAIR_CERTS"  # optional: certificate login when set, interactive login otherwise


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


def credentials_from(environ: Mapping[str, str]) -> dict[str, str]:
    """Betfair credentials from environment variables; raises CredentialsError naming the missing ones."""
    missing = [name for name in CREDENTIAL_VARIABLES if not environ.get(name)]
    if missing:
        raise CredentialsError(f"missing environment variables for Betfair credentials: {', '.join(missing)}")
    creds = {name: environ[name] for name in CREDENTIAL_VARIABLES}
    if environ.get(CERTS_VARIABLE):
        certs = environ[CERTS_VARIABLE]
        if not Path(certs).is_dir():
            raise CredentialsError(f"{CERTS_VARIABLE}: {certs} is not a directory of certificate files")
        creds[CERTS_VARIABLE] = certs
    return creds


def betfair_client(
    environ: Mapping[str, str],
    endpoint: ExchangeEndpoint | None,
    *,
    paper_trade: bool = False,
    execution_cls=None,
    market_recording_mode: bool = False,
) -> SessionClient:
    """A flumine Betfair client from environment credentials, pointed at a local exchange when given."""
    creds = credentials_from(environ)
    certs = creds.get(CERTS_VARIABLE)
    masks = redactor()  # before the client exists: nothing it logs shows a credential or its session token
    masks.add(creds["BETFAIR_USERNAME"], creds["BETFAIR_PASSWORD"], creds["BETFAIR_APP_KEY"])
    trading = APIClient(
        creds["BETFAIR_USERNAME"], creds["BETFAIR_PASSWORD"], app_key=creds["BETFAIR_APP_KEY"], certs=certs
    )
    masks.watch(lambda: (trading.session_token,))
    if endpoint is not None:
        point_at(trading, endpoint)
    else:
        trading.streaming = LocalStreaming(trading)  # Betfair's own hosts, with streams that stop safely
    return SessionClient(
        trading,
        paper_trade=paper_trade,
        execution_cls=execution_cls,
        interactive_login=certs is None,
        market_recording_mode=market_recording_mode,
    )
