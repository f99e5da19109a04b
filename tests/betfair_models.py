"""An independent model of Betfair's API: betfair-parser's strict msgspec structs (unknown fields are errors).

`validate_rpc` checks a JSON-RPC answer, `validate_result` a REST answer, `validate_stream` a stream message;
each raises msgspec.ValidationError naming the first field that does not fit Betfair's definitions."""

from __future__ import annotations

import typing

import msgspec
from betfair_parser.spec import accounts, betting, identity, navigation
from betfair_parser.spec.streaming import StreamResponseType

OPERATIONS: dict[str, type] = {
    "getAccountFunds": accounts.GetAccountFunds,
    "getAccountDetails": accounts.GetAccountDetails,
    "listMarketCatalogue": betting.ListMarketCatalogue,
    "listCurrentOrders": betting.ListCurrentOrders,
    "listClearedOrders": betting.ListClearedOrders,
    "placeOrders": betting.PlaceOrders,
    "cancelOrders": betting.CancelOrders,
    "replaceOrders": betting.ReplaceOrders,
    "updateOrders": betting.UpdateOrders,
}
IDENTITY: dict[str, type] = {
    "login": identity.LoginResponse,
    "certlogin": identity.CertLoginResponse,
    "keepAlive": identity.KeepAliveLogoutResponse,
    "logout": identity.KeepAliveLogoutResponse,
}


def _decode(raw: bytes | str, kind: object) -> object:
    return msgspec.json.decode(raw, type=kind, strict=False)  # strict=False: as betfair-parser decodes


def validate_rpc(operation: str, raw: bytes | str) -> object:
    """A JSON-RPC answer of the operation (result or error) as betfair-parser reads it."""
    return _decode(raw, OPERATIONS[operation].return_type)


def validate_result(operation: str, raw: bytes | str) -> object:
    """A REST answer (the bare result) of the operation as betfair-parser reads it."""
    return _decode(raw, typing.get_args(OPERATIONS[operation].return_type)[0])


def validate_identity(operation: str, raw: bytes | str) -> object:
    """A login, certlogin, keepAlive or logout answer as betfair-parser reads it."""
    return _decode(raw, IDENTITY[operation])


def validate_navigation(raw: bytes | str) -> navigation.Navigation:
    """The navigation menu as betfair-parser reads it."""
    return _decode(raw, navigation.Navigation)


def validate_stream(raw: bytes | str) -> object:
    """One stream message (connection, status, mcm, ocm) as betfair-parser reads it."""
    return _decode(raw, StreamResponseType)
