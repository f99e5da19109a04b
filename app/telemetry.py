"""Wiring the order-path timings (every live and paper run) and the Prometheus metrics (--metrics-port) into a
framework or a recorder: which part's listener feeds which figure."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from flumine.markets.middleware import Middleware
from flumine.worker import BackgroundWorker

from app.framework import Framework
from app.metrics import Metrics, TradingMetrics
from app.report import settled
from controls.execution import CallLog
from controls.ordertiming import OrderTimings
from controls.watchdog import StreamMonitor
from core.clock import Clock
from core.positions import positions

logger = logging.getLogger("paddock.metrics")

REFRESH_INTERVAL = 1.0  # seconds between refreshes of the order, exposure and P&L gauges


def attach_timings(framework: Framework, call_log: CallLog, wall: Clock) -> OrderTimings:
    """Time each stage of the order path, from the market stream's messages to the order stream's matches."""
    timings = OrderTimings(wall)
    layer = framework.safety
    flumine = framework.flumine
    layer.monitor.data_listeners.append(timings.received)
    layer.dispatcher.queued_listeners.append(timings.decided)
    call_log.place_sent.append(timings.sent)
    call_log.place_answered.append(timings.answered)

    def order_update(market_id: str, order_id: str) -> None:
        market = flumine.markets.markets.get(market_id)
        if market is not None and order_id in market.blotter:
            timings.order_update(market.blotter[order_id])

    flumine.order_update_listeners.append(order_update)
    framework.latency = timings.latency
    return timings


class UpdateCounter(Middleware):
    """Counts every market update flumine processes, per market type."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(self, market) -> None:
        """One update of this market."""
        self.metrics.update(market.market_type)


def refresh(metrics: TradingMetrics, framework: Framework) -> None:
    """Orders by strategy and status, open exposure, P&L and the kill switch as they stand (main thread)."""
    markets = list(framework.flumine.markets)
    counts: Counter[tuple[str, str]] = Counter()
    for market in markets:
        for order in market.blotter:
            counts[(order.trade.strategy.name, order.status.name if order.status else "NONE")] += 1
    metrics.set_orders(dict(counts))
    open_markets = [m for m in markets if not m.closed and len(m.blotter)]
    metrics.exposure.set(sum(positions(m).exposure for m in open_markets))
    metrics.pnl.labels("settled").set(sum(o.profit for m in markets if m.closed and settled(m) for o in m.blotter))
    metrics.pnl.labels("today").set(framework.safety.pnl.today())
    metrics.set_kill_switch(str(framework.safety.kill_switch.state))


def attach_metrics(framework: Framework, post: Callable[[Callable[[], None]], None], port: int) -> TradingMetrics:
    """Feed a TradingMetrics from the framework's parts and serve it on 127.0.0.1:port."""
    metrics = TradingMetrics(str(framework.mode))
    layer = framework.safety
    flumine = framework.flumine
    flumine.add_market_middleware(UpdateCounter(metrics))
    if framework.latency is not None:
        framework.latency.listeners.append(metrics.observe)
    layer.dispatcher.placed_listeners.append(
        lambda market, order: metrics.orders_placed.labels(order.trade.strategy.name).inc()
    )
    layer.dispatcher.refusal_listeners.append(lambda refusal: metrics.refused(refusal.reason))
    layer.kill_switch.change_listeners.append(lambda change: metrics.set_kill_switch(str(change.state)))
    layer.monitor.reconnect_listeners.append(metrics.reconnects.inc)
    flumine.order_listeners.append(lambda: refresh(metrics, framework))
    flumine.add_worker(
        BackgroundWorker(
            flumine,
            function=lambda *_: post(lambda: refresh(metrics, framework)),
            interval=REFRESH_INTERVAL,
            name="paddock_metrics",
        )
    )
    metrics.set_kill_switch(str(layer.kill_switch.state))
    metrics.pnl.labels("settled").set(0)
    metrics.pnl.labels("today").set(0)
    bound = metrics.serve(port)
    logger.info("metrics on http://127.0.0.1:%s/metrics", bound)
    framework.metrics = metrics
    return metrics


def attach_recorder_metrics(recorder, monitor: StreamMonitor, port: int) -> Metrics:
    """The recorder's metrics: updates written per market type and stream reconnects, on 127.0.0.1:port."""
    metrics = Metrics("record")
    recorder.update_listeners.append(metrics.update)
    monitor.reconnect_listeners.append(metrics.reconnects.inc)
    bound = metrics.serve(port)
    logger.info("metrics on http://127.0.0.1:%s/metrics", bound)
    return metrics
