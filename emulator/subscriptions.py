"""What a stream subscription sees: Betfair's market filter, its order filter, and the messages that open each."""

from __future__ import annotations

from emulator.book import MarketState
from emulator.exchange import Exchange
from emulator.projection import Projection, approximation

HEARTBEAT_MS = (500, 5000)  # Betfair's bounds for heartbeatMs; 5000 when absent


def heartbeat_seconds(request: dict) -> float:
    """A subscription's heartbeatMs clamped to Betfair's bounds, in seconds."""
    ms = request.get("heartbeatMs") or HEARTBEAT_MS[1]
    return min(max(int(ms), HEARTBEAT_MS[0]), HEARTBEAT_MS[1]) / 1000.0


def market_matches(market: MarketState, market_filter: dict) -> bool:
    """Betfair's market filter: ids, event ids, event types, market types, countries (empty = all)."""
    d = market.definition
    checks = (
        ("marketIds", market.market_id),
        ("eventIds", str(d.get("eventId", ""))),
        ("eventTypeIds", str(d.get("eventTypeId", ""))),
        ("marketTypes", d.get("marketType")),
        ("countryCodes", d.get("countryCode")),
    )
    for key, value in checks:
        wanted = market_filter.get(key)
        if wanted and value not in [str(w) for w in wanted]:
            return False
    return True


def of_strategies(oc: list[dict], strategy_refs: set[str]) -> list[dict]:
    """Order changes limited to the subscribed customer strategy refs (all when none), empty markets dropped."""
    if not strategy_refs:
        return oc
    oc = [{**m, "orc": [{**r, "uo": [u for u in r["uo"] if u["rfs"] in strategy_refs]} for r in m["orc"]]} for m in oc]
    return [m for m in oc if any(r["uo"] for r in m["orc"])]


def _first(exchange: Exchange, op: str, sub_id: int | None, heartbeat: float, ct: str) -> dict:
    """The fields every subscription's first message carries, with a fresh clock."""
    clk = exchange.clk()
    return {
        "op": op,
        **({} if sub_id is None else {"id": sub_id}),
        "initialClk": clk,
        "clk": clk,
        "conflateMs": 0,
        "heartbeatMs": int(heartbeat * 1000),
        "pt": exchange.now_ms(),
        "ct": ct,
    }


def market_image(
    exchange: Exchange,
    sub_id: int | None,
    market_filter: dict,
    heartbeat: float,
    resubscribe: bool,
    projection: Projection,
) -> dict:
    """The first mcm of a market subscription: every matching market whole. Call with the exchange locked."""
    first = _first(exchange, "mcm", sub_id, heartbeat, "RESUB_DELTA" if resubscribe else "SUB_IMAGE")
    markets = [m for m in exchange.markets.values() if market_matches(m, market_filter)]
    return first | {"mc": [projection.image(m) for m in markets]}


def approximation_note(exchange: Exchange, projection: Projection) -> str:
    """What a subscription's status says when full ladders it asked for are approximated (empty when none are)."""
    if projection.keys is None or not {"atb", "atl"} & projection.keys:
        return ""
    return approximation(exchange.catalogue.recorded)


def order_image(exchange: Exchange, sub_id: int, strategy_refs: set[str], heartbeat: float) -> dict:
    """The first ocm of an order subscription: every incomplete order. Call with the exchange locked."""
    orders = [
        o for o in exchange.engine.orders.values() if not o.complete and (not strategy_refs or o.rfs in strategy_refs)
    ]
    oc: dict[str, dict[int, list]] = {}
    for o in orders:
        oc.setdefault(o.market_id, {}).setdefault(o.selection_id, []).append(o.uo())
    return _first(exchange, "ocm", sub_id, heartbeat, "SUB_IMAGE") | {
        "oc": [
            {"id": mid, "orc": [{"fullImage": True, "id": sid, "uo": uo} for sid, uo in runners.items()]}
            for mid, runners in oc.items()
        ]
    }
