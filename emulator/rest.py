"""The REST side as a Starlette app: identity (login, certlogin, keepAlive, logout), the Betting and Accounts APIs
(JSON-RPC at `json-rpc/v1` with or without `/<Service>/v1.0/<method>` after it, and REST at `rest/v1.0/<method>/`),
the navigation menu and the control API. Every error is in Betfair's shapes (apierrors.py).

Every endpoint does its work in the threadpool: betting calls block (in-play bet delay, `delay` faults,
the exchange lock) and must not hold up other requests or the stream connections on the same loop."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator import jsonrpc
from emulator.apierrors import rest_exception
from emulator.exchange import Exchange
from emulator.faults import FaultError, parse_faults
from emulator.listings import navigation_menu
from emulator.restguard import BodyLimit

logger = logging.getLogger("paddock.emulator.rest")


class JsonAnswer(Response):
    """A JSON answer, rendered as Python's json.dumps does by default (as the emulator always has)."""

    media_type = "application/json"

    def render(self, content: object) -> bytes:
        """The body's bytes."""
        return json.dumps(content).encode("utf-8")


@dataclass(frozen=True)
class Call:
    """What an endpoint's work reads from its request."""

    body: bytes
    app_key: str | None
    token: str | None
    path: dict[str, str] = field(default_factory=dict)  # the route's path parameters


Work = Callable[[Exchange, Call], tuple[object, int]]  # (answer, HTTP status), run in the threadpool


def _form(body: bytes) -> dict[str, str] | None:
    """A url-encoded form's fields (the first value of each); None when the body is not UTF-8 text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return {k: v[0] for k, v in parse_qs(text).items()}


def _login(exchange: Exchange, form: dict[str, str], app_key: str | None) -> str | None:
    return exchange.login(form.get("username", ""), form.get("password", ""), app_key or "")


def certlogin(exchange: Exchange, call: Call) -> tuple[object, int]:
    """Certificate login (form username/password)."""
    form = _form(call.body)
    session = _login(exchange, form, call.app_key) if form is not None else None
    return (
        {"sessionToken": session, "loginStatus": "SUCCESS"}
        if session
        else {"loginStatus": "INVALID_USERNAME_OR_PASSWORD"}
    ), 200


def login(exchange: Exchange, call: Call) -> tuple[object, int]:
    """Interactive login (form username/password); a body that is no form fails as INPUT_VALIDATION_ERROR."""
    form = _form(call.body)
    session = _login(exchange, form, call.app_key) if form is not None else None
    error = "INPUT_VALIDATION_ERROR" if form is None else "INVALID_USERNAME_OR_PASSWORD"
    return {
        "token": session or "",
        "product": call.app_key,
        "status": "SUCCESS" if session else "FAIL",
        "error": "" if session else error,
    }, 200


def _session_reply(call: Call, ok: bool) -> tuple[object, int]:
    return {
        "token": call.token if ok else "",
        "product": call.app_key,
        "status": "SUCCESS" if ok else "FAIL",
        "error": "" if ok else "NO_SESSION",
    }, 200


def keep_alive(exchange: Exchange, call: Call) -> tuple[object, int]:
    """keepAlive: SUCCESS while the session is valid."""
    return _session_reply(call, exchange.session_error(call.token, call.app_key) is None)


def logout(exchange: Exchange, call: Call) -> tuple[object, int]:
    """logout: ends the session (after any `delay` fault armed for operation "logout", in market seconds)."""
    for fault in exchange.faults.take("logout"):
        if fault.kind == "delay":
            exchange.pause_market(fault.seconds)
    return _session_reply(call, exchange.logout(call.token))


def json_rpc(exchange: Exchange, call: Call) -> tuple[object, int]:
    """The Betting and Accounts APIs: JSON-RPC, single or batch (the method may also come from the path)."""
    path_method = f"{call.path['service']}/v1.0/{call.path['method']}" if "method" in call.path else ""
    return jsonrpc.answer(exchange, call.body, call.token, call.app_key, path_method), 200


def rest_call(exchange: Exchange, call: Call) -> tuple[object, int]:
    """The Betting and Accounts APIs' REST form: POST .../rest/v1.0/<method>/ with the params as the body."""
    return jsonrpc.rest_answer(exchange, call.path["method"], call.body, call.token, call.app_key)


def navigation(exchange: Exchange, call: Call) -> tuple[object, int]:
    """GET .../rest/v1/<locale>/navigation/menu.json: every market of the recordings, for a valid session."""
    error = exchange.session_error(call.token, call.app_key)
    if error:
        return rest_exception("APINGException", error), 400
    return navigation_menu(exchange), 200


def add_faults(exchange: Exchange, call: Call) -> tuple[object, int]:
    """POST /emulator/faults: a JSON list of faults to schedule or arm."""
    try:
        faults = parse_faults(jsonrpc.parse(call.body or b"[]"), "POST /emulator/faults")
    except (ValueError, FaultError) as exc:
        return rest_exception("APINGException", "INVALID_INPUT_DATA", str(exc)), 400
    exchange.add_faults(faults)
    return {"added": len(faults)}, 200


def state(exchange: Exchange, call: Call) -> tuple[object, int]:
    """GET /emulator/state: what the emulator has seen and done, for operators and tests."""
    ex = exchange
    with ex.lock:
        return {
            "started": ex.started,
            "finished": ex.finished.is_set(),
            "done": ex.done.is_set(),
            "market_time": ex.now_ms(),
            "published": ex.published,
            "messages": len(ex.messages),
            "logins": ex.logins,
            "calls": dict(ex.calls),
            "subscribers": len(ex.subscribers),
            "markets": {m.market_id: {"status": m.status, "inPlay": m.in_play} for m in ex.markets.values()},
            "orders": [o.current() for o in ex.engine.orders.values()],
        }, 200


def endpoint(work: Work) -> Callable:
    """A Starlette endpoint running `work` in the threadpool; a client gone before its answer is one log line."""

    async def run(request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # it hung up halfway through its body: nobody to answer
            _went_away(request, "sending its request")
            return Response(status_code=400)
        probe = request.app.state.exchange.probe
        if probe is not None:
            probe.arrived(request.url.path, body)
        headers = request.headers
        call = Call(body, headers.get("X-Application"), headers.get("X-Authentication"), dict(request.path_params))
        answer, status = await run_in_threadpool(work, request.app.state.exchange, call)
        if await request.is_disconnected():  # e.g. its read timeout passed during a slow call
            _went_away(request, "its answer")
        return JsonAnswer(answer, status)

    return run


def _went_away(request: Request, before: str) -> None:
    host, port = request.client or ("?", 0)
    logger.info("client %s:%s went away before %s to %s", host, port, before, request.url.path)


def _ending(suffix: str, work: Work) -> list[Route]:
    """POST routes for every path ending in /suffix, whatever comes before (Betfair's hosts differ in prefix)."""
    run = endpoint(work)
    return [Route(f"/{suffix}", run, methods=["POST"]), Route(f"/{{prefix:path}}/{suffix}", run, methods=["POST"])]


IDENTITY: dict[str, Work] = {"certlogin": certlogin, "login": login, "keepAlive": keep_alive, "logout": logout}

ROUTES = [
    *[route for name, work in IDENTITY.items() for route in _ending(name, work)],
    *_ending("json-rpc/v1", json_rpc),
    Route("/{prefix:path}/json-rpc/v1/{service}/v1.0/{method}", endpoint(json_rpc), methods=["POST"]),
    Route("/{prefix:path}/rest/v1.0/{method}", endpoint(rest_call), methods=["POST"]),
    Route("/{prefix:path}/rest/v1/{locale}/navigation/menu.json", endpoint(navigation), methods=["GET"]),
    Route("/emulator/faults", endpoint(add_faults), methods=["POST"]),
    Route("/emulator/state", endpoint(state), methods=["GET"]),
]


async def _no_such_path(request: Request, exc: Exception) -> Response:
    path = request.url.path + (f"?{request.url.query}" if request.method == "GET" and request.url.query else "")
    return JsonAnswer(rest_exception("APINGException", "INVALID_INPUT_DATA", f"no such path {path}"), 404)


async def _no_such_method(request: Request, exc: Exception) -> Response:
    allowed = getattr(exc, "headers", None) or {}
    text = f"{request.method} not allowed on {request.url.path}"
    return JsonAnswer(rest_exception("APINGException", "INVALID_INPUT_DATA", text), 405, headers=allowed)


class _WithoutTrailingSlash:
    """Match paths without their trailing slashes, as the emulator always has (no redirects)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)


def build_app(exchange: Exchange) -> Starlette:
    """The REST API of one emulated exchange; unknown paths get a 404 fault, other methods a 405."""
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(BodyLimit), Middleware(_WithoutTrailingSlash)],
        exception_handlers={404: _no_such_path, 405: _no_such_method},
    )
    app.state.exchange = exchange
    return app
