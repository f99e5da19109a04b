"""The Betting and Accounts JSON-RPC methods of the emulated exchange: one table, and the faults armed for them."""

from __future__ import annotations

import time

from core.errorcodes import APING_CODES
from emulator.accounts import account_details, account_funds
from emulator.betting import cancel_orders, fail_all, place_orders, replace_orders, update_orders
from emulator.exchange import Exchange
from emulator.listings import list_cleared_orders, list_current_orders, list_market_catalogue


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
    exchange.pause(delay)
    if error is not None:
        raise ApingError(error.code)
    if duplicate:
        return fail_all(params, params.get("instructions") or [], "DUPLICATE_TRANSACTION", "ERROR_IN_ORDER")
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
