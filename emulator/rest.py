"""The REST side over HTTP: identity (login, certlogin, keepAlive, logout), JSON-RPC, and the emulator's control API."""

from __future__ import annotations

import json
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from emulator import api
from emulator.exchange import Exchange
from emulator.faults import FaultError, parse_faults

logger = logging.getLogger("paddock.emulator.rest")


class _Handler(BaseHTTPRequestHandler):
    server: RestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args) -> None:
        logger.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, body, status: int = 200) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """The control API: GET /emulator/state."""
        if self.path.rstrip("/") == "/emulator/state":
            self._send(self.server.state())
        else:
            self._send({"error": f"no such path {self.path}"}, 404)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        """Identity endpoints, JSON-RPC, and POST /emulator/faults."""
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._body()
        exchange = self.server.exchange
        app_key = self.headers.get("X-Application")
        token = self.headers.get("X-Authentication")
        if path.endswith("/certlogin"):
            form = _form(body)
            session = exchange.login(form.get("username", ""), form.get("password", ""), app_key or "")
            self._send(
                {"sessionToken": session, "loginStatus": "SUCCESS"}
                if session
                else {"loginStatus": "INVALID_USERNAME_OR_PASSWORD"}
            )
        elif path.endswith("/login"):
            form = _form(body)
            session = exchange.login(form.get("username", ""), form.get("password", ""), app_key or "")
            self._send(
                {
                    "token": session or "",
                    "product": app_key,
                    "status": "SUCCESS" if session else "FAIL",
                    "error": "" if session else "INVALID_USERNAME_OR_PASSWORD",
                }
            )
        elif path.endswith("/keepAlive"):
            self._session_reply(token, app_key, exchange.session_error(token, app_key) is None)
        elif path.endswith("/logout"):
            self._session_reply(token, app_key, exchange.logout(token))
        elif path.endswith("/json-rpc/v1"):
            self._json_rpc(body, token, app_key)
        elif path == "/emulator/faults":
            try:
                faults = parse_faults(json.loads(body or b"[]"), "POST /emulator/faults")
            except (ValueError, FaultError) as exc:
                self._send({"error": str(exc)}, 400)
                return
            exchange.add_faults(faults)
            self._send({"added": len(faults)})
        else:
            self._send({"error": f"no such path {path}"}, 404)

    def _session_reply(self, token: str | None, app_key: str | None, ok: bool) -> None:
        self._send(
            {
                "token": token if ok else "",
                "product": app_key,
                "status": "SUCCESS" if ok else "FAIL",
                "error": "" if ok else "NO_SESSION",
            }
        )

    def _json_rpc(self, body: bytes, token: str | None, app_key: str | None) -> None:
        try:
            request = json.loads(body)
        except ValueError:
            self._send({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None})
            return
        batch = isinstance(request, list)
        answers = [self._one(r, token, app_key) for r in (request if batch else [request])]
        self._send(answers if batch else answers[0])

    def _one(self, request: dict, token: str | None, app_key: str | None) -> dict:
        request_id = request.get("id")
        operation = str(request.get("method", "")).rsplit("/", 1)[-1]
        error = self.server.exchange.session_error(token, app_key)
        try:
            if error:
                raise api.ApingError(error)
            result = api.call(self.server.exchange, operation, request.get("params") or {})
        except api.ApingError as exc:
            return {
                "jsonrpc": "2.0",
                "error": {
                    "code": -32099,
                    "message": "ANGX-0003",
                    "data": {
                        "APINGException": {"requestUUID": "emulator", "errorCode": exc.code, "errorDetails": ""},
                        "exceptionname": "APINGException",
                    },
                },
                "id": request_id,
            }
        return {"jsonrpc": "2.0", "result": result, "id": request_id}


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}


class RestServer(ThreadingHTTPServer):
    """HTTP server for the REST API on 127.0.0.1."""

    daemon_threads = True

    def __init__(self, exchange: Exchange, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.exchange = exchange

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.server_address[1]

    def handle_error(self, request, client_address) -> None:
        """A client that hung up before its answer (a read timeout) is part of the job; anything else is logged."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset, ...
            logger.info("client %s:%s went away before its answer", *client_address)
            return
        super().handle_error(request, client_address)

    def state(self) -> dict:
        """What the emulator has seen and done, for operators and tests."""
        ex = self.exchange
        with ex.lock:
            return {
                "started": ex.started,
                "finished": ex.finished.is_set(),
                "published": ex.published,
                "messages": len(ex.messages),
                "logins": ex.logins,
                "calls": dict(ex.calls),
                "subscribers": len(ex.subscribers),
                "markets": {m.market_id: {"status": m.status, "inPlay": m.in_play} for m in ex.markets.values()},
                "orders": [o.current() for o in ex.engine.orders.values()],
            }
