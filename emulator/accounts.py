"""The Accounts API of the emulated exchange: account details and funds."""

from __future__ import annotations

from emulator.exchange import Exchange


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
