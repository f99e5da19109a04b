"""Betfair's error shapes: JSON-RPC error objects, REST faults, and the HTTP statuses each comes with.

JSON-RPC (`.../json-rpc/v1`): HTTP 200 and an `error` object per request; an APINGException (or, for the Accounts
API, an AccountAPINGException) is code -32099 with the exception under `data`, as Betfair answers it.
REST (`.../rest/v1.0/<method>/`): a fault body `{"faultcode", "faultstring", "detail"}`; an exception is HTTP 400
with the same exception under `detail`, an unknown operation 404. Errors of the HTTP layer (no such path, another
method, a body too large) are faults too, with the status that names them."""

from __future__ import annotations

APING_CODE = -32099  # JSON-RPC code of an APINGException (implementation-defined server error)
PARSE_ERROR = (-32700, "DSC-0008")  # JSONDeserialisationParseFailure
INVALID_REQUEST = (-32600, "DSC-0008")
NO_SUCH_METHOD = (-32601, "DSC-0021")  # NoSuchOperation
INVALID_PARAMS = (-32602, "DSC-0018")
ACCOUNT_PREFIX = "AccountAPING/"
ACCOUNT_METHODS = frozenset({"getAccountFunds", "getAccountDetails", "getAccountStatement", "listCurrencyRates"})


def exception_name(operation: str, method: str = "") -> str:
    """APINGException, or AccountAPINGException for the Accounts API's operations."""
    account = method.startswith(ACCOUNT_PREFIX) or operation in ACCOUNT_METHODS
    return "AccountAPINGException" if account else "APINGException"


def exception_data(name: str, error_code: str, details: str = "") -> dict:
    """The exception as Betfair nests it: under its own name, with `exceptionname` saying which."""
    return {name: {"requestUUID": "emulator", "errorCode": error_code, "errorDetails": details}, "exceptionname": name}


def _message(name: str) -> str:
    return "AANGX-0003" if name == "AccountAPINGException" else "ANGX-0003"


def rpc_error(request_id: object, code: int, message: str, data: object = None) -> dict:
    """A JSON-RPC error answer."""
    error: dict = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": request_id}


def rpc_exception(request_id: object, name: str, error_code: str, details: str = "") -> dict:
    """A JSON-RPC answer failing with an APINGException (or AccountAPINGException) error code."""
    return rpc_error(request_id, APING_CODE, _message(name), exception_data(name, error_code, details))


def fault(faultstring: str, detail: dict | None = None) -> dict:
    """A REST fault body (Betfair's shape for every REST and HTTP-level error)."""
    return {"faultcode": "Client", "faultstring": faultstring, "detail": detail or {}}


def rest_exception(name: str, error_code: str, details: str = "") -> dict:
    """A REST fault carrying an APINGException (HTTP 400)."""
    return fault(_message(name), exception_data(name, error_code, details))
