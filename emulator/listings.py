"""The Betting API's listings of the emulated exchange: current orders, cleared orders and the market catalogue."""

from __future__ import annotations

from emulator.book import MarketState
from emulator.catalogue import market_definitions
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
    """listMarketCatalogue: markets not CLOSED that match ids, types and countries, from the start of the replay
    (a market not yet replayed as its first recorded definition describes it)."""
    market_filter = params.get("filter") or {}
    wanted = {key: {str(x) for x in market_filter.get(key) or ()} for key in CATALOGUE_FILTER}
    out = []
    with exchange.lock:
        for market_id, d in market_definitions(
            exchange.catalogue, exchange.markets, exchange.replay_start_ms()
        ).items():
            if d.get("status") == "CLOSED":
                continue  # Betfair lists only markets still to be traded
            values = {key: market_id if field is None else str(d.get(field)) for key, field in CATALOGUE_FILTER.items()}
            if any(wanted[k] and values[k] not in wanted[k] for k in wanted):
                continue
            market = exchange.markets.get(market_id)
            out.append(exchange.catalogue.entry(market_id, d, market.tv if market is not None else None))
    return out[: int(params.get("maxResults") or 1000)]


def navigation_menu(exchange: Exchange) -> dict:
    """The navigation menu (menu.json) of every market of the recordings, from the start of the replay."""
    with exchange.lock:
        definitions = market_definitions(exchange.catalogue, exchange.markets, exchange.replay_start_ms())
        return exchange.catalogue.menu(definitions)
