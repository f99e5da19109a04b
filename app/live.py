"""Assembling live and paper trading: Betfair's (or a local exchange's) stream, real or simulated orders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from flumine import worker as flumine_worker
from flumine.events.events import CustomEvent
from flumine.streams.betfairmarketstream import BetfairMarketStream
from flumine.worker import BackgroundWorker

from app.auditing import attach_audit
from app.framework import Framework, Mode
from app.lock import BotLock
from app.plugins import PluginRegistry
from app.reconcile import reconcile_at_start
from app.recovery import restore
from app.storestate import StoreState
from app.telemetry import attach_metrics, attach_timings
from app.watch import RunWatch
from app.wiring import add_strategies, assemble
from app.workers import PaddockFlumine
from controls.daybook import DayBook
from controls.execution import CallLog, LoggedBetfairExecution, TimedSimulatedExecution
from controls.store import JsonFileStore
from controls.watchdog import monitored_listener
from core.alerts import alerts_for
from core.clock import LiveMarketClock, WallClock
from core.config import LoadedConfig
from core.errorcodes import SESSION_CODES
from core.exchange import ExchangeEndpoint
from core.session import betfair_client

DEFAULT_SETTLE_POLL = 60.0  # flumine's own poll_market_closure interval
MARKET_DATA_FILTER = {
    "fields": ["EX_ALL_OFFERS", "EX_TRADED", "EX_TRADED_VOL", "EX_LTP", "EX_MARKET_DEF", "SP_TRADED", "SP_PROJECTED"]
}
SAFETY_TICK = 0.2  # seconds between the layer's timer work when no market data arrives
WATCH_INTERVAL = 2.0  # seconds between --until-closed checks when no status line is shown


def kill_switch_path(config: LoadedConfig, mode: Mode) -> Path:
    """Where a live or paper framework keeps its kill switch state."""
    return config.resolve(config.app.data_dir) / str(mode) / "killswitch.json"


def build_exchange(
    mode: Mode,
    config: LoadedConfig,
    registry: PluginRegistry,
    raise_hook_errors: bool,
    environ: Mapping[str, str],
    endpoint: ExchangeEndpoint | None,
    until_closed: bool = False,
    metrics_port: int | None = None,
) -> Framework:
    """Live (real orders) or paper (simulated orders) on the market stream of Betfair or a local exchange.

    With metrics_port, Prometheus metrics are served on 127.0.0.1:metrics_port (0: any free port)."""
    alerts = alerts_for(config, environ)  # a webhook file that cannot be read stops here, before the lock
    lock = BotLock(kill_switch_path(config, mode).parent).acquire()  # before anything touches the exchange
    paper_trade = mode == Mode.PAPER
    wall = WallClock()
    clock = LiveMarketClock(wall)  # strategy logic runs on market time, as in a backtest
    call_log = CallLog(wall)
    execution = partial(TimedSimulatedExecution if paper_trade else LoggedBetfairExecution, call_log=call_log)
    client = betfair_client(environ, endpoint, paper_trade=paper_trade, execution_cls=execution)
    flumine = PaddockFlumine(client=client)
    if paper_trade:
        flumine.simulated_execution = client.execution  # paper's execution: the one flumine shuts down at the end

    def post(fn: Callable[[], None]) -> None:
        """Run fn on flumine's main thread, then end the unit of work as a book does (owed hooks, one flush)."""
        flumine.handler_queue.put(CustomEvent(None, lambda *_: (fn(), driver.after_work())))

    store = JsonFileStore(kill_switch_path(config, mode))
    daybook = DayBook(clock, JsonFileStore(kill_switch_path(config, mode).parent / "daybook.json"))
    framework = assemble(mode, config, flumine, clock, call_log, store, alerts, post, wall=wall, daybook=daybook)
    framework.lock = lock
    framework.alerts = alerts  # flushed and closed when the run ends
    layer = framework.safety
    # on an execution thread: renew the session before flumine retries the call
    call_log.listeners.append(lambda code: code in SESSION_CODES and client.renew_session(code))
    layer.monitor.error_listeners.append(lambda code: code in SESSION_CODES and client.renew_session(code))
    stream_class = type(
        "MonitoredMarketStream", (BetfairMarketStream,), {"LISTENER": monitored_listener(layer.monitor)}
    )

    def streams_for(index: int) -> list:
        market_filter = config.app.strategies[index].market_filter.streaming()
        return [stream_class(market_filter=market_filter, market_data_filter=MARKET_DATA_FILTER)]

    driver = add_strategies(framework, registry, streams_for, raise_hook_errors)
    flumine.order_update_listeners.append(layer.ledgers.touch)  # a complete order can still change (voids)
    flumine.order_listeners.append(layer.ledgers.stale)  # after an order-stream message, ledgers read again
    flumine.order_listeners.append(driver.orders_changed)
    try:
        filters = [entry.market_filter.model_dump() for entry in config.app.strategies]
        attach_timings(framework, call_log, wall)
        if metrics_port is not None:  # before the audit store's run row: a port in use stops the start cleanly
            attach_metrics(framework, post, metrics_port)
        audit = attach_audit(framework, driver, call_log, environ, filters)
        state = StoreState(audit.engine, audit.url, str(mode), audit.run_id) if audit is not None else None
        if state is not None:
            restore(framework, state, carry_exposure=paper_trade)  # the kill switch, today's P&L (paper: exposure)
    except BaseException:
        if framework.metrics is not None:
            framework.metrics.close()
        lock.release()  # it never started
        raise
    if not paper_trade:  # when flumine starts: logged in, before its streams (so before any book or order update)
        driver.start_listeners.append(reconcile_at_start(framework, client, state))

    def tick() -> None:
        """Timer work on the main thread: over a quiet spell market time moves on (timers due meanwhile run at
        their deadlines), then the layer's periodic work."""
        quiet_until = clock.quiet_until()
        if quiet_until is not None:
            framework.tracker.timers.run_until(quiet_until)
            clock.advance_to(quiet_until)
        layer.tick()

    flumine.add_worker(
        BackgroundWorker(flumine, function=lambda *_: post(tick), interval=SAFETY_TICK, name="paddock_safety_tick")
    )
    exchange_cfg = config.app.exchange
    if exchange_cfg.status_interval or until_closed:
        watch = RunWatch(framework, post, until_closed=until_closed, show=bool(exchange_cfg.status_interval))
        flumine.add_worker(
            BackgroundWorker(
                flumine,
                function=watch.work,
                interval=exchange_cfg.status_interval or WATCH_INTERVAL,
                start_delay=exchange_cfg.status_interval or WATCH_INTERVAL,
                name="paddock_watch",
            )
        )
    flumine.add_worker(
        BackgroundWorker(
            flumine,
            function=lambda *_: client.check_session(),
            interval=exchange_cfg.session_check,
            start_delay=exchange_cfg.session_check,
            name="paddock_session_check",
        )
    )
    if not paper_trade and exchange_cfg.settle_poll < DEFAULT_SETTLE_POLL:
        # flumine polls cleared orders of closed markets every 60 s; poll sooner when the config asks
        flumine.add_worker(
            BackgroundWorker(
                flumine,
                function=flumine_worker.poll_market_closure,
                interval=exchange_cfg.settle_poll,
                start_delay=exchange_cfg.settle_poll,
                name="paddock_settle_poll",
            )
        )
    return framework
