"""Assembling a backtest: recordings replayed by FlumineSimulation, orders simulated, time from the market data."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from flumine import FlumineSimulation, clients

from app.auditing import attach_audit
from app.framework import Framework, Mode
from app.plugins import PluginRegistry
from app.wiring import add_strategies, assemble
from controls.execution import CallLog, LoggedSimulatedExecution
from controls.killswitch import TradingState
from controls.store import MemoryStore
from core.alerts import LogAlerts
from core.clock import MarketDataClock
from core.config import LoadedConfig
from core.errors import RecordingError
from core.recordings import MarketHeader, Recording, read_headers, resolve_paths
from core.replayfile import RecordingReader, RecordingStream

logger = logging.getLogger(__name__)

ALL_EVENTS = "all-events"  # the one event group of a chronological replay
AuditSink = Callable[[Framework, object, CallLog, list[str]], object]


@dataclass(frozen=True)
class MarketStream:
    """A market of a recording and the stream that replays it."""

    header: MarketHeader
    stream: RecordingStream


def build_backtest(
    config: LoadedConfig,
    registry: PluginRegistry,
    paths: list[str | Path] | None,
    raise_hook_errors: bool,
    strict: bool = False,
    *,
    chronological: bool = False,
    switch_state: dict | None = None,
    audit_sink: AuditSink | None = None,
    warn_unmatched: bool = True,
) -> Framework:
    """A backtest of the configured strategies over the recordings (paths, else `[backtest] paths`).

    A line that cannot be used is skipped and listed in the report, and a file that cannot be read at all is
    left out; with strict, the first such line stops the run (RecordingError naming file and line).
    chronological: every market of every event in one publish-time order (cross-event limits exact);
    switch_state: the kill switch starts as this stored state (an earlier event group's, scope "run");
    audit_sink: wires the store's recorder instead of the audit store (a worker returning its rows);
    warn_unmatched: warn of a strategy that matches none of the recordings (an event group's worker does not)."""
    raw_paths = list(paths) if paths else [config.resolve(p) for p in config.app.backtest.paths]
    recordings, unreadable = read_headers(resolve_paths(raw_paths), strict)
    market_streams = recording_streams(recordings, strict, chronological)
    clock = MarketDataClock()
    call_log = CallLog(clock)
    client = clients.SimulatedClient(execution_cls=partial(LoggedSimulatedExecution, call_log=call_log))
    competitions = {ms.header.market_id: ms.header.competition_id for ms in market_streams if ms.header.competition_id}
    # a backtest keeps its kill switch in memory: it must neither inherit nor leave state (determinism)
    framework = assemble(
        Mode.BACKTEST,
        config,
        FlumineSimulation(client=client),
        clock,
        call_log,
        _switch_store(switch_state),
        LogAlerts(),
        _now,
        competitions,
    )
    framework.recordings = recordings
    framework.unreadable = unreadable
    if chronological:  # events overlap: nothing ends when the next one starts
        framework.safety.new_market_listeners.append(lambda market: _set_event(framework, market))
    else:
        boundary = EventBoundary(framework, config.app.backtest.kill_switch_scope)
        framework.safety.new_market_listeners.append(boundary.market_added)

    def streams_for(index: int) -> list:
        entry = config.app.strategies[index]
        chosen = [
            ms.stream
            for ms in market_streams
            if entry.market_filter.matches(
                ms.header.event_type_id,
                ms.header.market_type,
                ms.header.country_code,
                ms.header.event_id,
                ms.header.market_id,
            )
        ]
        if not chosen and warn_unmatched:
            logger.warning("strategy %s matches none of the recordings", entry.instance_name)
        return chosen

    driver = add_strategies(framework, registry, streams_for, raise_hook_errors)
    sources = [str(r.path) for r in recordings]
    if audit_sink is not None:
        audit_sink(framework, driver, call_log, sources)
    else:
        attach_audit(framework, driver, call_log, os.environ, sources)
    for stream in framework.flumine.streams:  # the markets the strategies replay; a reader skips the others
        stream.reader.want(stream.market_id)
    for strategy in [*framework.strategies, driver]:
        # flumine's documented fast path for replays (stream ids never change in a backtest); without it
        # every update builds a list of the strategy's stream ids, one per replayed market
        strategy.historic_stream_ids = {stream.stream_id for stream in strategy.streams}
    return framework


def recording_streams(
    recordings: list[Recording], strict: bool = False, chronological: bool = False
) -> list[MarketStream]:
    """One stream per market; the markets of one event are replayed together in publish-time order
    (chronological: all markets of all events together, as one group).

    Markets of one file that are replayed together share one reader, so the file is read and parsed once."""
    seen: dict[str, Path] = {}
    chosen: list[tuple[Recording, MarketHeader]] = []
    for recording in recordings:
        for header in recording.markets:
            if header.market_id in seen:
                logger.warning(
                    "skipping market %s in %s: already replayed from %s",
                    header.market_id,
                    recording.path,
                    seen[header.market_id],
                )
                continue
            seen[header.market_id] = recording.path
            chosen.append((recording, header))
    if not chosen:
        raise RecordingError("no markets to replay")
    per_event: dict[str, int] = {}
    for _, header in chosen:
        group = ALL_EVENTS if chronological else header.event_id
        per_event[group] = per_event.get(group, 0) + 1
    # markets of one file in one event group share a reader; a market replayed on its own reads alone
    readers: dict[tuple[Path, str], RecordingReader] = {}
    streams = []
    for recording, header in chosen:
        group = ALL_EVENTS if chronological else header.event_id
        grouped = per_event[group] > 1
        key = (recording.path, group if grouped else header.market_id)
        reader = readers.get(key) or readers.setdefault(key, RecordingReader(recording.path, strict))
        stream = RecordingStream(
            reader,
            market_id=header.market_id if len(recording.markets) > 1 else None,
            event_processing=grouped,
            event_group=group if grouped else None,
            event_id=header.event_id,
        )
        streams.append(MarketStream(header, stream))
    return streams


class EventBoundary:
    """A backtest replays events one after another: each event group starts with fresh per-event safety state.

    When the first market of a new event arrives, timers the last event left pending run at their deadlines
    (its data has ended), and a tripped kill switch is reset (scope "event"; with "run" a trip halts the rest
    of the run). Every trip stays in the report, with its event."""

    def __init__(self, framework: Framework, scope: str) -> None:
        self.layer = framework.safety
        self.timers = framework.tracker.timers
        self.scope = scope
        self.events: set[str] = set()

    def market_added(self, market) -> None:
        """flumine added a market: a new event means a new group."""
        event_id = market.event_id
        if event_id in self.events:
            return
        if self.events:
            self.timers.run_all()
            switch = self.layer.kill_switch
            if self.scope == "event" and switch.state is not TradingState.ACTIVE:
                switch.reset(f"event {event_id} starts fresh (the last event tripped the switch)", source="backtest")
        self.events.add(event_id)
        self.layer.current_event = event_id


def unmatched_strategies(config: LoadedConfig, headers: list[MarketHeader]) -> list[str]:
    """The configured strategies whose market filter matches none of these markets."""
    return [
        entry.instance_name
        for entry in config.app.strategies
        if not any(
            entry.market_filter.matches(h.event_type_id, h.market_type, h.country_code, h.event_id, h.market_id)
            for h in headers
        )
    ]


def _switch_store(state: dict | None) -> MemoryStore:
    """The backtest's kill-switch store: empty (ACTIVE), or holding an earlier event group's state."""
    store = MemoryStore()
    if state is not None:
        store.update(lambda _: state)
    return store


def _set_event(framework: Framework, market) -> None:
    """Chronological: trips are listed with the event whose market arrived last."""
    framework.safety.current_event = market.event_id


def _now(fn) -> None:
    fn()
