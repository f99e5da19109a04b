"""Betfair's Betting and Accounts APIs in both their forms: JSON-RPC (single or batch) and REST (params as the body).

Each request is answered with its result or, in Betfair's own shapes (apierrors.py), with the reason it failed:
an unknown operation, params of the wrong type, or an APINGException error code."""

from __future__ import annotations

import json
from dataclasses import dataclass

from emulator import api
from emulator.apierrors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    NO_SUCH_METHOD,
    PARSE_ERROR,
    exception_data,
    exception_name,
    fault,
    rest_exception,
    rpc_error,
    rpc_exception,
)
from emulator.exchange import Exchange
from emulator.shapes import rpc_problem


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse(body: bytes) -> object:
    """A request body's JSON; ValueError when it is none (not UTF-8, NaN or Infinity, nested too deep)."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deep") from None


@dataclass(frozen=True)
class Failure:
    """Why a request failed: a JSON-RPC code and Betfair's fault string, or an APINGException error code."""

    code: int
    message: str
    data: str = ""  # what is wrong, as errorDetails
    error_code: str | None = None  # the APINGException's error code, if one is thrown


def _run(exchange: Exchange, operation: str, params: object, token: str | None, app_key: str | None):
    """The operation's result, or a Failure."""
    if operation not in api.METHODS:
        return Failure(*NO_SUCH_METHOD)
    try:
        error = exchange.session_error(token, app_key)
        if error:
            raise api.ApingError(error)
        wrong = rpc_problem(operation, params)
        if wrong:
            return Failure(*INVALID_PARAMS, data=wrong, error_code="INVALID_INPUT_DATA")
        return api.call(exchange, operation, params)
    except api.ApingError as exc:
        return Failure(0, "", error_code=exc.code)


def answer(
    exchange: Exchange, body: bytes, token: str | None, app_key: str | None, path_method: str = ""
) -> dict | list:
    """The answer to a JSON-RPC body: one answer, or a list for a batch.

    path_method: the `<Service>/v1.0/<method>` after `json-rpc/v1/` in the URL, used when a request names none."""
    try:
        request = parse(body)
    except ValueError:
        return rpc_error(None, *PARSE_ERROR)
    batch = isinstance(request, list)
    answers = [_one(exchange, r, token, app_key, path_method) for r in (request if batch else [request])]
    return answers if batch else answers[0]


def _one(exchange: Exchange, request: object, token: str | None, app_key: str | None, path_method: str) -> dict:
    if not isinstance(request, dict):
        return rpc_error(None, *INVALID_REQUEST)
    request_id = request.get("id")
    method = str(request.get("method") or path_method)
    operation = method.rsplit("/", 1)[-1]
    params = {} if request.get("params") is None else request["params"]
    result = _run(exchange, operation, params, token, app_key)
    if not isinstance(result, Failure):
        return {"jsonrpc": "2.0", "result": result, "id": request_id}
    name = exception_name(operation, method)
    if result.code == 0:
        return rpc_exception(request_id, name, result.error_code or "", result.data)
    data = exception_data(name, result.error_code, result.data) if result.error_code else None
    return rpc_error(request_id, result.code, result.message, data)


def rest_answer(
    exchange: Exchange, operation: str, body: bytes, token: str | None, app_key: str | None
) -> tuple[object, int]:
    """The answer to a REST call (`.../rest/v1.0/<operation>/`, the params as the body) and its HTTP status."""
    try:
        params = parse(body) if body.strip() else {}
    except ValueError:
        return fault(PARSE_ERROR[1]), 400
    result = _run(exchange, operation, params, token, app_key)
    if not isinstance(result, Failure):
        return result, 200
    name = exception_name(operation)
    if result.code == 0:
        return rest_exception(name, result.error_code or "", result.data), 400
    detail = exception_data(name, result.error_code, result.data) if result.error_code else None
    return fault(result.message, detail), 404 if result.code == NO_SUCH_METHOD[0] else 400
