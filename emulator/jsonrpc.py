"""Betfair's JSON-RPC envelope: single or batch requests, each answered with a result or an APINGException."""

from __future__ import annotations

import json

from emulator import api
from emulator.exchange import Exchange
from emulator.shapes import rpc_problem

PARSE_ERROR = {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
INVALID_REQUEST = {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None}


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse(body: bytes) -> object:
    """A request body's JSON; ValueError when it is none (not UTF-8, NaN or Infinity, nested too deep)."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deep") from None


def answer(exchange: Exchange, body: bytes, token: str | None, app_key: str | None) -> dict | list:
    """The answer to a JSON-RPC body: one answer, or a list for a batch."""
    try:
        request = parse(body)
    except ValueError:
        return PARSE_ERROR
    batch = isinstance(request, list)
    answers = [_one(exchange, r, token, app_key) for r in (request if batch else [request])]
    return answers if batch else answers[0]


def _one(exchange: Exchange, request, token: str | None, app_key: str | None) -> dict:
    if not isinstance(request, dict):
        return INVALID_REQUEST
    request_id = request.get("id")
    operation = str(request.get("method", "")).rsplit("/", 1)[-1]
    params = {} if request.get("params") is None else request["params"]
    error = exchange.session_error(token, app_key)
    try:
        if error:
            raise api.ApingError(error)
        wrong = rpc_problem(operation, params)
        if wrong:
            return {
                "jsonrpc": "2.0",
                "error": {"code": -32602, "message": "Invalid params", "data": wrong},
                "id": request_id,
            }
        result = api.call(exchange, operation, params)
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
