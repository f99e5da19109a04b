"""Wiring one framework: the state tracker, the safety layer and its controls, the strategies, the driver."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flumine.baseflumine import BaseFlumine

from app.driver import LayerDriver
from app.framework import Framework, Mode
from app.plugins import PluginRegistry
from controls.dataquality import DataQualityControl
from controls.daybook import DayBook
from controls.execution import CallLog
from controls.killswitch import KillSwitchControl
from controls.layer import SafetyLayer, SafetyMiddleware
from controls.risk import RiskControl, exempt_hedges_from_strategy_exposure
from controls.store import StateStore
from core.alerts import AlertHook
from core.clock import Clock, Timers
from core.config import LoadedConfig
from middleware.signals import SignalBuffer
from middleware.state import MarketStateTracker

logger = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]  # run a function on flumine's main thread


def assemble(
    mode: Mode,
    config: LoadedConfig,
    flumine: BaseFlumine,
    clock: Clock,
    call_log: CallLog,
    store: StateStore,
    alerts: AlertHook,
    post: Post,
    competitions: dict[str, str] | None = None,
    wall: Clock | None = None,
    daybook: DayBook | None = None,
) -> Framework:
    """The tracker and the safety layer registered with flumine; strategies are added by add_strategies."""
    timers = Timers(clock)  # deadlines in market time; the tracker runs them as market time reaches them
    tracker = MarketStateTracker(clock, timers)
    flumine.add_market_middleware(tracker)  # the signal buffer is added with the first strategy that uses it
    layer = SafetyLayer(config.app, flumine, clock, tracker, store, alerts, call_log, timers, wall, daybook)
    call_log.listeners.append(lambda code: post(lambda: layer.exchange_error(code)))  # answers come on other threads
    risk = RiskControl(
        flumine,
        config=config.app.risk,
        clock=clock,
        event_markets=tracker.event_market_ids,
        daily_pnl=layer.pnl.today,
        blocked=layer.cascade.blocked,
        competitions=competitions or {},
        cooldowns=layer.daybook.cooldowns,
        positions_of=layer.ledgers.positions,
    )
    # ours go first, so a refused order names the kill switch or the risk limit rather than a later symptom;
    # the data-quality pause before the risk limits, so an order it refuses does not start a selection cooldown
    ours = [KillSwitchControl(flumine, layer.kill_switch, layer.ledgers.positions), risk]
    if layer.data_quality.enabled:
        ours.insert(1, DataQualityControl(flumine, layer.data_quality))
        # stream notices come on the stream's thread: the guard hears them on flumine's main thread
        layer.monitor.notice_listeners.append(
            lambda stream_id, what: post(lambda: layer.data_quality.notice(stream_id, what))
        )
    flumine.trading_controls[:0] = ours
    exempt_hedges_from_strategy_exposure(flumine)  # else max_order_exposure can refuse the hedge of a long price
    flumine.add_market_middleware(SafetyMiddleware(layer))
    return Framework(
        mode=mode,
        flumine=flumine,
        clock=clock,
        tracker=tracker,
        signals=SignalBuffer(),
        strategies=[],
        config=config,
        safety=layer,
    )


def add_strategies(
    framework: Framework,
    registry: PluginRegistry,
    streams_for: Callable[[int], list],
    raise_hook_errors: bool,
) -> LayerDriver:
    """Create the configured strategies with their streams, then the driver that runs after them."""
    source = str(framework.config.path)
    signals_added = False
    for index, entry in enumerate(framework.config.app.strategies):
        strategy = registry.create(
            entry,
            source,
            index,
            streams=streams_for(index),
            tracker=framework.tracker,
            signals=framework.signals,
            clock=framework.clock,
            raise_hook_errors=raise_hook_errors,
            safety=framework.safety,
        )
        framework.flumine.add_strategy(strategy)
        framework.strategies.append(strategy)
        if strategy.uses_signals:
            if not signals_added:  # a framework whose strategies use no signals pays nothing for the buffer
                framework.flumine.add_market_middleware(framework.signals)
                signals_added = True
            framework.signals.watch(strategy.streams)
    streams = list({id(s): s for strategy in framework.strategies for s in strategy.streams}.values())
    driver = LayerDriver(framework.safety, framework.tracker, framework.clock, framework.strategies, streams)
    framework.flumine.add_strategy(driver)  # last: flumine calls it after every strategy on each book
    framework.tracker.timers.after = driver.after_work  # timers fired between books end their work the same way
    return driver
