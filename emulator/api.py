"""The Betting and Accounts JSON-RPC methods of the emulated exchange: one table, and the faults armed for them."""

from __future__ import annotations

import time

from core.errorcodes import APING_CODES
from emulator.accounts import account_details, account_funds
from emulator.betting import (
    answer_placement,
    cancel_orders,
    fail_all,
    place_orders,
    replace_orders,
    submit_placement,
    update_orders,
)
from emulator.exchange import Exchange
from emulator.listings import list_cleared_orders, list_current_orders, list_market_catalogue


class ApingError(Exception):
    """A call that fails as a whole with an APINGException error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def call(exchange: Exchange, operation: str, params: dict) -> dict | list:
    """Run one JSON-RPC method with the faults armed for it; raises ApingError.

    A `delay` fault holds the answer for its market seconds (seconds / speed of wall time). Orders placed
    meet the book from the request's arrival all the same: a slow answer, not a slow exchange."""
    handler = METHODS.get(operation)
    if handler is None:
        raise ApingError("INVALID_INPUT_DATA")
    arrived = exchange.clock.offset_ms()  # before any delay or lock wait
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
    acts = error is None and not duplicate and (report_fault is None or _acts_anyway(report_fault))
    placement = submit_placement(exchange, params, arrived) if acts and operation == "placeOrders" else None
    exchange.pause_market(delay)
    if error is not None:
        raise ApingError(error.code)
    if duplicate:
        return fail_all(params, params.get("instructions") or [], "DUPLICATE_TRANSACTION", "ERROR_IN_ORDER")
    if report_fault is not None and operation in ORDER_METHODS:
        if _acts_anyway(report_fault):
            # the exchange acted but the answer says it does not know: the order stream tells the truth
            if placement is not None:
                answer_placement(exchange, params, placement)
            else:
                handler(exchange, params)
            return _timeout_report(params)
        return _failure_report(params, report_fault)
    if placement is not None:
        return answer_placement(exchange, params, placement)
    return handler(exchange, params)


def _acts_anyway(fault) -> bool:
    """A TIMEOUT report: the exchange does what was asked, the answer says it does not know."""
    return fault.kind == "report" and fault.status == "TIMEOUT"


def _timeout_report(params: dict) -> dict:
    return {
        "status": "TIMEOUT",
        "marketId": params.get("marketId"),
        "customerRef": params.get("customerRef"),
        "instructionReports": [{"status": "TIMEOUT", "instruction": i} for i in params.get("instructions") or []],
    }


def _failure_report(params: dict, fault) -> dict:
    return {
        "status": "FAILURE",
        "errorCode": fault.code or "ERROR_IN_ORDER",
        "marketId": params.get("marketId"),
        "customerRef": params.get("customerRef"),
        "instructionReports": [
            {"status": "FAILURE", "errorCode": "ERROR_IN_ORDER", "instruction": i}
            for i in params.get("instructions") or []
        ],
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
