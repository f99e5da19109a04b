"""An order as one row of orders.csv (and of the audit store's orders)."""

from __future__ import annotations

from core.positions import is_hedge

ORDER_COLUMNS = [  # orders.csv's columns, in order
    "strategy",
    "market_id",
    "event_id",
    "market_type",
    "selection_id",
    "side",
    "order_type",
    "persistence",
    "price",
    "size",
    "placed_at",
    "status",
    "size_matched",
    "average_price_matched",
    "size_cancelled",
    "size_lapsed",
    "size_voided",
    "runner_status",
    "profit",
    "hedge",
]
# what changes over an order's life (the audit store rewrites these when an order ends)
STATE_COLUMNS = tuple(ORDER_COLUMNS[ORDER_COLUMNS.index("status") : ORDER_COLUMNS.index("hedge")])


def order_row(order, market) -> dict:
    """An order as a report row (orders.csv's columns), its state as it stands now."""
    order_type = order.order_type
    return {
        "strategy": order.trade.strategy.name,
        "market_id": order.market_id,
        "event_id": market.event_id,
        "market_type": market.market_type,
        "selection_id": order.selection_id,
        "side": order.side,
        "order_type": order_type.ORDER_TYPE.value,
        "persistence": getattr(order_type, "persistence_type", None),
        "price": getattr(order_type, "price", None),
        "size": getattr(order_type, "size", None) or getattr(order_type, "liability", None),
        "placed_at": order.date_time_created.isoformat(),
        "status": order.status.value if order.status else None,
        "size_matched": round(order.size_matched, 2),
        "average_price_matched": order.average_price_matched or None,
        "size_cancelled": round(order.size_cancelled, 2),
        "size_lapsed": round(order.size_lapsed, 2),
        "size_voided": round(order.size_voided, 2),
        "runner_status": order.runner_status,
        "profit": round(order.profit, 2),
        "hedge": is_hedge(order),
    }
