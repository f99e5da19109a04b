"""The Betting API's order methods of the emulated exchange: placeOrders, cancelOrders, updateOrders, replaceOrders."""

from __future__ import annotations

from emulator.exchange import Exchange
from emulator.matching import InstructionError
from emulator.orders import iso
from emulator.placement import Placement, delay_of, failure


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


def submit_placement(exchange: Exchange, params: dict, arrived_ms: int | None = None) -> Placement | dict:
    """placeOrders as it arrives: refuse at once what cannot be placed, queue the rest to meet the book.

    arrived_ms: the market ms (replay offset) the request arrived at, before any `delay` fault or lock wait;
    the orders reach the book place_latency (+ the in-play bet delay) later (placement.py)."""
    arrived = exchange.clock.offset_ms() if arrived_ms is None else arrived_ms
    market_id = str(params.get("marketId"))
    instructions = params.get("instructions") or []
    with exchange.lock:
        market = exchange.markets.get(market_id)
        if market is None:
            # INVALID_MARKET_ID is a report code only; each instruction fails as part of the failed report
            return fail_all(params, instructions, "INVALID_MARKET_ID", "ERROR_IN_ORDER")
        delay_ms, passive = delay_of(market)
        placement = Placement(
            market_id, instructions, params.get("customerStrategyRef") or "", arrived, delay_ms, passive
        )
        for index, instruction in enumerate(instructions):
            try:
                exchange.engine.validate(market, instruction)
            except InstructionError as exc:
                placement.report_code = placement.report_code or exc.report_code
                placement.reports[index] = failure(instruction, exc.instruction_code)
        if placement.pending():
            exchange.submit(placement)
        else:
            placement.done.set()
    return placement


def answer_placement(exchange: Exchange, params: dict, placement: Placement | dict) -> dict:
    """placeOrders' answer, once every instruction has reached the book (or was refused)."""
    if isinstance(placement, dict):
        return placement
    exchange.await_placement(placement)
    return _report(params, [r for r in placement.reports if r is not None], placement.report_code)


def place_orders(exchange: Exchange, params: dict) -> dict:
    """placeOrders: LIMIT orders, on the book place_latency (+ the in-play bet delay) after they arrive."""
    return answer_placement(exchange, params, submit_placement(exchange, params))


def fail_all(params: dict, instructions: list, report_code: str, instruction_code: str) -> dict:
    """A report failing every instruction, and the call as a whole, with the given codes."""
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
        # Betfair's UpdateExecutionReport always carries customerRef and errorCode, null when there is none
        return {"customerRef": None, "errorCode": None} | _report(params, reports, report_code)


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
                new = exchange.engine.place(market, place, old.rfs, now)
                touched = [new]
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
