"""The shapes of requests, checked before they are acted on: JSON-RPC params and Exchange Stream requests.

Betfair deserializes both into typed fields. Here only what the emulator reads is checked, each field for the JSON
type Betfair's type definitions give it; null counts as absent and unknown fields are ignored. A value of the wrong
type would otherwise fail deep inside the exchange (on the replay's thread, for an order that reaches the book
later, or for a market filter every replayed message is held against) instead of in its own answer."""

from __future__ import annotations

import math
from collections.abc import Callable

Check = Callable[[object, str], str | None]  # (value, where it is) -> what is wrong with it, or None


def _string(value: object, where: str) -> str | None:
    return None if isinstance(value, str) else f"{where}: expected a string"


def _number(value: object, where: str) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return None
    return f"{where}: expected a number"


def _integer(value: object, where: str) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else f"{where}: expected an integer"


def _boolean(value: object, where: str) -> str | None:
    return None if isinstance(value, bool) else f"{where}: expected true or false"


def _list(item: Check) -> Check:
    def check(value: object, where: str) -> str | None:
        if not isinstance(value, list):
            return f"{where}: expected a list"
        return next((e for i, v in enumerate(value) if (e := item(v, f"{where}[{i}]"))), None)

    return check


def _object(fields: dict[str, Check]) -> Check:
    def check(value: object, where: str) -> str | None:
        if not isinstance(value, dict):
            return f"{where}: expected an object"
        found = (
            fields[k](v, f"{where}.{k}" if where else k) for k, v in value.items() if k in fields and v is not None
        )
        return next((e for e in found if e), None)

    return check


_STRINGS = _list(_string)
_LIMIT_ORDER = _object(
    {
        "size": _number,
        "price": _number,
        "persistenceType": _string,
        "timeInForce": _string,
        "minFillSize": _number,
        "betTargetType": _string,
        "betTargetSize": _number,
    }
)
_PLACE = _object(
    {
        "selectionId": _integer,
        "handicap": _number,
        "side": _string,
        "orderType": _string,
        "limitOrder": _LIMIT_ORDER,
        "customerOrderRef": _string,
    }
)
_ORDERS = {"marketId": _string, "customerRef": _string}
_PAGE = {"fromRecord": _integer, "recordCount": _integer}
_MARKET_FILTER = _object(
    {
        "textQuery": _string,
        "eventTypeIds": _STRINGS,
        "eventIds": _STRINGS,
        "competitionIds": _STRINGS,
        "marketIds": _STRINGS,
        "venues": _STRINGS,
        "bspOnly": _boolean,
        "turnInPlayEnabled": _boolean,
        "inPlayOnly": _boolean,
        "marketBettingTypes": _STRINGS,
        "marketCountries": _STRINGS,
        "marketTypeCodes": _STRINGS,
    }
)

PARAMS: dict[str, Check] = {
    "placeOrders": _object(
        {
            **_ORDERS,
            "instructions": _list(_PLACE),
            "customerStrategyRef": _string,
            "async": _boolean,
        }
    ),
    "cancelOrders": _object({**_ORDERS, "instructions": _list(_object({"betId": _string, "sizeReduction": _number}))}),
    "updateOrders": _object(
        {**_ORDERS, "instructions": _list(_object({"betId": _string, "newPersistenceType": _string}))}
    ),
    "replaceOrders": _object(
        {**_ORDERS, "instructions": _list(_object({"betId": _string, "newPrice": _number})), "async": _boolean}
    ),
    "listCurrentOrders": _object(
        {
            **_PAGE,
            "betIds": _STRINGS,
            "marketIds": _STRINGS,
            "customerOrderRefs": _STRINGS,
            "customerStrategyRefs": _STRINGS,
            "orderProjection": _string,
        }
    ),
    "listClearedOrders": _object(
        {
            **_PAGE,
            "betStatus": _string,
            "betIds": _STRINGS,
            "marketIds": _STRINGS,
            "customerStrategyRefs": _STRINGS,
            "groupBy": _string,
        }
    ),
    "listMarketCatalogue": _object({"filter": _MARKET_FILTER, "maxResults": _integer}),
    "getAccountFunds": _object({"wallet": _string}),
}


_SUBSCRIPTION = {"heartbeatMs": _integer, "conflateMs": _integer, "initialClk": _string, "clk": _string}
STREAM: dict[str, Check] = {
    "authentication": _object({"session": _string, "appKey": _string}),
    "marketSubscription": _object(
        {
            **_SUBSCRIPTION,
            "segmentationEnabled": _boolean,
            "marketFilter": _object(
                {
                    "marketIds": _STRINGS,
                    "bspMarket": _boolean,
                    "bettingTypes": _STRINGS,
                    "eventTypeIds": _STRINGS,
                    "eventIds": _STRINGS,
                    "turnInPlayEnabled": _boolean,
                    "marketTypes": _STRINGS,
                    "venues": _STRINGS,
                    "countryCodes": _STRINGS,
                    "raceTypes": _STRINGS,
                }
            ),
            "marketDataFilter": _object({"ladderLevels": _integer, "fields": _STRINGS}),
        }
    ),
    "orderSubscription": _object(
        {
            **_SUBSCRIPTION,
            "segmentationEnabled": _boolean,
            "orderFilter": _object(
                {
                    "includeOverallPosition": _boolean,
                    "customerStrategyRefs": _STRINGS,
                    "partitionMatchedByStrategyRef": _boolean,
                    "accountIds": _list(_integer),
                }
            ),
        }
    ),
}
_ANY_OBJECT = _object({})


def rpc_problem(operation: str, params: object) -> str | None:
    """What is wrong with a JSON-RPC method's params (None when nothing is, or the method takes none we read)."""
    return PARAMS.get(operation, _ANY_OBJECT)(params, "")


def stream_problem(request: object) -> str | None:
    """What is wrong with a stream request: it must be an object with a string op and an integer id, if any."""
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        return "expected an object with a string op"
    if request.get("id") is not None and _integer(request["id"], "id"):
        return "id: expected an integer"
    return STREAM.get(request["op"], _ANY_OBJECT)(request, "")
