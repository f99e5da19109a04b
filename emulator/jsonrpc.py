"""Betfair's JSON-RPC envelope: single or batch requests, each answered with a result or an APINGException."""

from __future__ import annotations

import json

from emulator import api
from emulator.exchange import Exchange

PARSE_ERROR = {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
INVALID_REQUEST = {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None}


def answer(exchange: Exchange, body: bytes, token: str | None, app_key: str | None) -> dict | list:
    """The answer to a JSON-RPC body: one answer, or a list for a batch."""
    try:
        request = json.loads(body)
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
    error = exchange.session_error(token, app_key)
    try:
        if error:
            raise api.ApingError(error)
        result = api.call(exchange, operation, request.get("params") or {})
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
