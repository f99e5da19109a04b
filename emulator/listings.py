"""The Betting API's listings of the emulated exchange: current orders, cleared orders and the market catalogue."""

from __future__ import annotations

from emulator.book import MarketState
from emulator.exchange import Exchange
from emulator.orders import iso


def _page(items: list, params: dict, key: str) -> dict:
    start = int(params.get("fromRecord") or 0)
    count = int(params.get("recordCount") or 1000)
    page = items[start : start + count]
    return {key: page, "moreAvailable": start + count < len(items)}


def list_current_orders(exchange: Exchange, params: dict) -> dict:
    """listCurrentOrders, filtered by bet ids, market ids and refs: orders of markets not yet settled (as Betfair,
    whose settled bets are listed by listClearedOrders only)."""
    bet_ids = {str(b) for b in params.get("betIds") or ()}
    market_ids = {str(m) for m in params.get("marketIds") or ()}
    rfos = set(params.get("customerOrderRefs") or ())
    rfss = set(params.get("customerStrategyRefs") or ())
    projection = params.get("orderProjection") or "ALL"
    with exchange.lock:
        orders = [
            o.current()
            for o in exchange.engine.orders.values()
            if o.market_id not in exchange.settled
            and (not bet_ids or o.bet_id in bet_ids)
            and (not market_ids or o.market_id in market_ids)
            and (not rfos or o.rfo in rfos)
            and (not rfss or o.rfs in rfss)
            and (projection == "ALL" or o.status == projection)
        ]
    return _page(orders, params, "currentOrders")


def list_cleared_orders(exchange: Exchange, params: dict) -> dict:
    """listClearedOrders of settled markets: per bet, or per market with groupBy MARKET."""
    status = params.get("betStatus") or "SETTLED"
    market_ids = {str(m) for m in params.get("marketIds") or ()}
    bet_ids = {str(b) for b in params.get("betIds") or ()}
    rfss = set(params.get("customerStrategyRefs") or ())
    with exchange.lock:
        rows = []
        for order in exchange.engine.orders.values():
            market = exchange.markets.get(order.market_id)
            if market is None or order.market_id not in exchange.settled:
                continue
            if (market_ids and order.market_id not in market_ids) or (bet_ids and order.bet_id not in bet_ids):
                continue
            if rfss and order.rfs not in rfss:
                continue
            row = _cleared(exchange, market, order, status)
            if row is not None:
                rows.append(row)
    if params.get("groupBy") == "MARKET":
        rows = _by_market(rows)
    return _page(rows, params, "clearedOrders")


def _cleared(exchange: Exchange, market: MarketState, order, status: str) -> dict | None:
    settled = exchange.settled[order.market_id]
    d = market.definition
    if status == "SETTLED" and order.size_matched > 0:
        return order.cleared(
            market.runner_status(order.selection_id), str(d.get("eventTypeId", "")), market.event_id, settled
        )
    unsettled = {
        "VOIDED": ("sizeSettled", order.size_voided),
        "LAPSED": ("sizeCancelled", order.size_lapsed),
        "CANCELLED": ("sizeCancelled", order.size_cancelled),
    }
    if status in unsettled and unsettled[status][1] > 0:
        key, size = unsettled[status]
        return {  # a ClearedOrderSummary as Betfair gives it for every status, refs included
            "eventTypeId": str(d.get("eventTypeId", "")),
            "eventId": market.event_id,
            "marketId": order.market_id,
            "selectionId": order.selection_id,
            "handicap": order.handicap,
            "betId": order.bet_id,
            "placedDate": iso(order.placed_ms),
            "persistenceType": order.persistence,
            "orderType": "LIMIT",
            "side": order.side,
            "priceRequested": order.price,
            "settledDate": iso(settled),
            "betCount": 1,
            key: size,
            "profit": 0.0,
            "customerOrderRef": order.rfo,
            "customerStrategyRef": order.rfs,
        }
    return None


def _by_market(rows: list[dict]) -> list[dict]:
    grouped: dict[str, dict] = {}
    for row in rows:
        entry = grouped.setdefault(
            row["marketId"],
            {
                "eventTypeId": row.get("eventTypeId"),
                "eventId": row.get("eventId"),
                "marketId": row["marketId"],
                "betCount": 0,
                "profit": 0.0,
                "settledDate": row.get("settledDate"),
            },
        )
        entry["betCount"] += 1
        entry["profit"] = round(entry["profit"] + row["profit"], 2)
    return list(grouped.values())


CATALOGUE_FILTER = {  # listMarketCatalogue's filter keys and the definition field each one reads
    "marketIds": None,
    "eventIds": "eventId",
    "eventTypeIds": "eventTypeId",
    "marketTypeCodes": "marketType",
    "marketCountries": "countryCode",
}


def list_market_catalogue(exchange: Exchange, params: dict) -> list[dict]:
    """listMarketCatalogue from the replayed definitions: markets not CLOSED that match ids, types and countries."""
    market_filter = params.get("filter") or {}
    wanted = {key: {str(x) for x in market_filter.get(key) or ()} for key in CATALOGUE_FILTER}
    out = []
    with exchange.lock:
        for market in exchange.markets.values():
            if market.status == "CLOSED":
                continue  # Betfair lists only markets still to be traded
            d = market.definition
            values = {
                key: market.market_id if field is None else str(d.get(field)) for key, field in CATALOGUE_FILTER.items()
            }
            if any(wanted[k] and values[k] not in wanted[k] for k in wanted):
                continue
            out.append(_catalogue(market))
    return out[: int(params.get("maxResults") or 1000)]


def _catalogue(market: MarketState) -> dict:
    d = market.definition
    entry = {
        "marketId": market.market_id,
        "marketName": d.get("name") or d.get("marketType") or market.market_id,
        "marketStartTime": d.get("marketTime"),
        "totalMatched": market.tv or 0.0,
        "description": {
            "persistenceEnabled": d.get("persistenceEnabled", True),
            "bspMarket": d.get("bspMarket", False),
            "marketTime": d.get("marketTime"),
            "suspendTime": d.get("suspendTime"),
            "bettingType": d.get("bettingType", "ODDS"),
            "turnInPlayEnabled": d.get("turnInPlayEnabled", True),
            "marketType": d.get("marketType"),
            "regulator": "GIBRALTAR REGULATOR",
            "marketBaseRate": d.get("marketBaseRate", 5.0),
            "discountAllowed": d.get("discountAllowed", True),
            "wallet": "UK wallet",
        },
        "eventType": {"id": str(d.get("eventTypeId")), "name": str(d.get("eventTypeId"))},
        "event": {
            "id": market.event_id,
            "name": d.get("eventName") or market.event_id,
            "countryCode": d.get("countryCode"),
            "timezone": d.get("timezone", "GMT"),
            "venue": d.get("venue"),
            "openDate": d.get("openDate") or d.get("marketTime"),
        },
        "runners": [
            {
                "selectionId": r["id"],
                "runnerName": r.get("name") or str(r["id"]),
                "handicap": r.get("hc", 0.0),
                "sortPriority": r.get("sortPriority", i + 1),
                "metadata": {"runnerId": str(r["id"])},
            }
            for i, r in enumerate(d.get("runners", ()))
        ],
    }
    if d.get("competitionId"):
        entry["competition"] = {
            "id": str(d["competitionId"]),
            "name": d.get("competitionName") or str(d["competitionId"]),
        }
    return entry
