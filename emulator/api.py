"""The Betting and Accounts JSON-RPC methods of the emulated exchange."""

from __future__ import annotations

import time

from core.errorcodes import APING_CODES
from emulator.book import MarketState
from emulator.exchange import Exchange
from emulator.matching import InstructionError
from emulator.orders import iso


class ApingError(Exception):
    """A call that fails as a whole with an APINGException error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def call(exchange: Exchange, operation: str, params: dict) -> dict | list:
    """Run one JSON-RPC method with the faults armed for it; raises ApingError."""
    handler = METHODS.get(operation)
    if handler is None:
        raise ApingError("INVALID_INPUT_DATA")
    with exchange.lock:
        exchange.calls[operation] += 1
        exchange.requests.append((time.time(), operation, params))
    delay, error, report_fault = 0.0, None, None
    for fault in exchange.faults.take(operation):
        if fault.kind == "delay":
            delay += fault.seconds
        elif fault.kind == "error" and fault.code in APING_CODES:
            error = error or fault
        else:
            report_fault = fault
    # the ref counts from arrival: a retry sent while a slow first attempt is still being worked on is
    # the re-submission Betfair's customerRef de-duplication exists for
    duplicate = (
        error is None
        and operation == "placeOrders"
        and bool(params.get("customerRef"))
        and not exchange.first_placement(str(params["customerRef"]))
    )
    time.sleep(delay)
    if error is not None:
        raise ApingError(error.code)
    if duplicate:
        return _fail_all(params, params.get("instructions") or [], "DUPLICATE_TRANSACTION", "ERROR_IN_ORDER")
    if report_fault is not None and operation in ORDER_METHODS:
        return _fault_report(exchange, operation, params, report_fault)
    return handler(exchange, params)


def _fault_report(exchange: Exchange, operation: str, params: dict, fault) -> dict:
    instructions = params.get("instructions") or []
    if fault.kind == "report" and fault.status == "TIMEOUT":
        # the exchange acted but the answer says it does not know: the order stream tells the truth
        METHODS[operation](exchange, params)
        return {
            "status": "TIMEOUT",
            "marketId": params.get("marketId"),
            "customerRef": params.get("customerRef"),
            "instructionReports": [{"status": "TIMEOUT", "instruction": i} for i in instructions],
        }
    code = fault.code or "ERROR_IN_ORDER"
    return {
        "status": "FAILURE",
        "errorCode": code,
        "marketId": params.get("marketId"),
        "customerRef": params.get("customerRef"),
        "instructionReports": [
            {"status": "FAILURE", "errorCode": "ERROR_IN_ORDER", "instruction": i} for i in instructions
        ],
    }


def _report(params: dict, reports: list[dict], report_code: str | None) -> dict:
    failed = any(r["status"] == "FAILURE" for r in reports)
    out = {
        "status": "FAILURE" if failed else "SUCCESS",
        "marketId": params.get("marketId"),
        "instructionReports": reports,
    }
    if params.get("customerRef"):
        out["customerRef"] = params["customerRef"]
    if failed:
        out["errorCode"] = report_code or "BET_ACTION_ERROR"
    return out


def place_orders(exchange: Exchange, params: dict) -> dict:
    """placeOrders: LIMIT orders, after the bet delay when in play."""
    market_id = str(params.get("marketId"))
    instructions = params.get("instructions") or []
    with exchange.lock:
        market = exchange.markets.get(market_id)
        if market is None:
            return _fail_all(params, instructions, "INVALID_MARKET_ID", "INVALID_MARKET_ID")
        delay = market.bet_delay
        suspensions = exchange.suspensions[market_id]
    if delay:
        exchange.wait_market_time(exchange.market_time() + delay)
    with exchange.lock:
        if delay and exchange.suspensions[market_id] != suspensions:
            return _fail_all(params, instructions, "BET_ACTION_ERROR", "BET_TAKEN_OR_LAPSED")
        now = exchange.now_ms()
        reports, changed, report_code = [], [], None
        for instruction in instructions:
            try:
                order, touched = exchange.engine.place(
                    market, instruction, params.get("customerStrategyRef") or "", now
                )
            except InstructionError as exc:
                report_code = report_code or exc.report_code
                reports.append({"status": "FAILURE", "errorCode": exc.instruction_code, "instruction": instruction})
                continue
            changed.extend(touched)
            killed = order.time_in_force == "FILL_OR_KILL" and order.size_matched == 0
            reports.append(
                {
                    "status": "SUCCESS",
                    "instruction": instruction,
                    "betId": order.bet_id,
                    "placedDate": iso(order.placed_ms),
                    "averagePriceMatched": order.average_price,
                    "sizeMatched": order.size_matched,
                    "orderStatus": "EXPIRED" if killed else order.status,
                }
            )
        if changed:
            exchange.push_orders(changed)
        return _report(params, reports, report_code)


def _fail_all(params: dict, instructions: list, report_code: str, instruction_code: str) -> dict:
    reports = [{"status": "FAILURE", "errorCode": instruction_code, "instruction": i} for i in instructions]
    return _report(params, reports, report_code) | {"status": "FAILURE", "errorCode": report_code}


def cancel_orders(exchange: Exchange, params: dict) -> dict:
    """cancelOrders: given bets, all bets of a market, or all bets."""
    with exchange.lock:
        market_id = params.get("marketId")
        instructions = params.get("instructions")
        if not instructions:
            orders = exchange.engine.executable(str(market_id) if market_id else None)
            instructions = [{"betId": o.bet_id} for o in orders]
        now = exchange.now_ms()
        reports, changed, report_code = [], [], None
        for instruction in instructions:
            order = exchange.engine.orders.get(str(instruction.get("betId")))
            market = exchange.markets.get(order.market_id if order else str(market_id))
            try:
                if market is None:
                    raise InstructionError("BET_ACTION_ERROR", "BET_TAKEN_OR_LAPSED")
                size, order = exchange.engine.cancel(
                    market, instruction.get("betId"), instruction.get("sizeReduction"), now
                )
            except InstructionError as exc:
                report_code = report_code or exc.report_code
                reports.append({"status": "FAILURE", "errorCode": exc.instruction_code, "instruction": instruction})
                continue
            changed.append(order)
            reports.append(
                {"status": "SUCCESS", "instruction": instruction, "sizeCancelled": size, "cancelledDate": iso(now)}
            )
        if changed:
            exchange.push_orders(changed)
        return _report(params, reports, report_code)


def update_orders(exchange: Exchange, params: dict) -> dict:
    """updateOrders: change the persistence of unmatched bets."""
    with exchange.lock:
        reports = []
        report_code = None
        for instruction in params.get("instructions") or []:
            order = exchange.engine.orders.get(str(instruction.get("betId")))
            if order is None or order.complete:
                report_code = "BET_ACTION_ERROR"
                reports.append({"status": "FAILURE", "errorCode": "BET_TAKEN_OR_LAPSED", "instruction": instruction})
                continue
            order.persistence = instruction.get("newPersistenceType") or order.persistence
            reports.append({"status": "SUCCESS", "instruction": instruction})
        return _report(params, reports, report_code)


def replace_orders(exchange: Exchange, params: dict) -> dict:
    """replaceOrders: cancel each bet and place what remained at a new price."""
    with exchange.lock:
        market = exchange.markets.get(str(params.get("marketId")))
        now = exchange.now_ms()
        reports, changed, report_code = [], [], None
        for instruction in params.get("instructions") or []:
            old = exchange.engine.orders.get(str(instruction.get("betId")))
            try:
                if market is None or old is None:
                    raise InstructionError("BET_ACTION_ERROR", "BET_TAKEN_OR_LAPSED")
                size, old = exchange.engine.cancel(market, old.bet_id, None, now)
                place = {
                    "selectionId": old.selection_id,
                    "handicap": old.handicap,
                    "side": old.side,
                    "orderType": "LIMIT",
                    "limitOrder": {
                        "size": size,
                        "price": instruction.get("newPrice"),
                        "persistenceType": old.persistence,
                    },
                    "customerOrderRef": old.rfo,
                }
                new, touched = exchange.engine.place(market, place, old.rfs, now)
            except InstructionError as exc:
                report_code = report_code or exc.report_code
                reports.append({"status": "FAILURE", "errorCode": exc.instruction_code, "instruction": instruction})
                continue
            changed.extend([old, *touched])
            reports.append(
                {
                    "status": "SUCCESS",
                    "cancelInstructionReport": {
                        "status": "SUCCESS",
                        "instruction": {"betId": old.bet_id},
                        "sizeCancelled": size,
                        "cancelledDate": iso(now),
                    },
                    "placeInstructionReport": {
                        "status": "SUCCESS",
                        "instruction": place,
                        "betId": new.bet_id,
                        "placedDate": iso(now),
                        "averagePriceMatched": new.average_price,
                        "sizeMatched": new.size_matched,
                        "orderStatus": new.status,
                    },
                }
            )
        if changed:
            exchange.push_orders(changed)
        return _report(params, reports, report_code)


def _page(items: list, params: dict, key: str) -> dict:
    start = int(params.get("fromRecord") or 0)
    count = int(params.get("recordCount") or 1000)
    page = items[start : start + count]
    return {key: page, "moreAvailable": start + count < len(items)}


def list_current_orders(exchange: Exchange, params: dict) -> dict:
    """listCurrentOrders, filtered by bet ids, market ids and refs."""
    bet_ids = {str(b) for b in params.get("betIds") or ()}
    market_ids = {str(m) for m in params.get("marketIds") or ()}
    rfos = set(params.get("customerOrderRefs") or ())
    rfss = set(params.get("customerStrategyRefs") or ())
    projection = params.get("orderProjection") or "ALL"
    with exchange.lock:
        orders = [
            o.current()
            for o in exchange.engine.orders.values()
            if (not bet_ids or o.bet_id in bet_ids)
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
        return {
            "marketId": order.market_id,
            "betId": order.bet_id,
            "selectionId": order.selection_id,
            key: size,
            "profit": 0.0,
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


def list_market_catalogue(exchange: Exchange, params: dict) -> list[dict]:
    """listMarketCatalogue built from the replayed market definitions."""
    market_filter = params.get("filter") or {}
    wanted = {
        "marketIds": {str(x) for x in market_filter.get("marketIds") or ()},
        "eventIds": {str(x) for x in market_filter.get("eventIds") or ()},
        "eventTypeIds": {str(x) for x in market_filter.get("eventTypeIds") or ()},
    }
    out = []
    with exchange.lock:
        for market in exchange.markets.values():
            d = market.definition
            values = {
                "marketIds": market.market_id,
                "eventIds": market.event_id,
                "eventTypeIds": str(d.get("eventTypeId")),
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


def account_details(exchange: Exchange, params: dict) -> dict:
    """getAccountDetails."""
    return {
        "currencyCode": "GBP",
        "firstName": "Paddock",
        "lastName": "Emulator",
        "localeCode": "en",
        "region": "GBR",
        "timezone": "GMT",
        "discountRate": 0.0,
        "pointsBalance": 0,
        "countryCode": "GB",
    }


def account_funds(exchange: Exchange, params: dict) -> dict:
    """getAccountFunds: a fixed balance less the worst-case exposure of unsettled orders."""
    with exchange.lock:
        exposure = 0.0
        for order in exchange.engine.orders.values():
            if order.market_id in exchange.settled:
                continue
            stake = order.size_matched + order.remaining
            exposure += stake if order.side == "BACK" else stake * (order.price - 1)
    return {
        "availableToBetBalance": round(10000.0 - exposure, 2),
        "exposure": round(-exposure, 2),
        "retainedCommission": 0.0,
        "exposureLimit": -10000.0,
        "discountRate": 0.0,
        "pointsBalance": 0,
        "wallet": "UK",
    }


METHODS = {
    "placeOrders": place_orders,
    "cancelOrders": cancel_orders,
    "updateOrders": update_orders,
    "replaceOrders": replace_orders,
    "listCurrentOrders": list_current_orders,
    "listClearedOrders": list_cleared_orders,
    "listMarketCatalogue": list_market_catalogue,
    "getAccountDetails": account_details,
    "getAccountFunds": account_funds,
}
ORDER_METHODS = {"placeOrders", "cancelOrders", "updateOrders", "replaceOrders"}
