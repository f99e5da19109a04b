"""The one place that chooses the mode and assembles flumine, strategies, middleware and controls."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path

from flumine import Flumine, FlumineSimulation, clients
from flumine import worker as flumine_worker
from flumine.baseflumine import BaseFlumine
from flumine.events.events import CustomEvent, TerminationEvent
from flumine.worker import BackgroundWorker

from controls.execution import CallLog, LoggedBetfairExecution, LoggedSimulatedExecution
from controls.layer import SafetyLayer, install
from controls.store import JsonFileStore, MemoryStore, StateStore
from controls.watchdog import monitored_listener
from core.alerts import AlertHook, LogAlerts, alerts_from
from core.clock import Clock, MarketDataClock, WallClock
from core.config import LoadedConfig
from core.errorcodes import SESSION_CODES
from core.errors import CredentialsError, RecordingError
from core.exchange import ExchangeEndpoint, SessionClient, point_at
from core.plugins import PluginRegistry, discover
from core.recorder import MarketRecorder
from core.recordings import MarketHeader, Recording, RecordingStream, read_header, resolve_paths
from middleware.signals import SignalBuffer
from middleware.state import MarketStateTracker
from strategies.base import ModalStrategy

logger = logging.getLogger(__name__)

DEFAULT_SETTLE_POLL = 60.0  # flumine's own poll_market_closure interval
MARKET_DATA_FILTER = {
    "fields": ["EX_ALL_OFFERS", "EX_TRADED", "EX_TRADED_VOL", "EX_LTP", "EX_MARKET_DEF", "SP_TRADED", "SP_PROJECTED"]
}

CREDENTIAL_VARIABLES = ("BETFAIR_USERNAME", "BETFAIR_PASSWORD", "BETFAIR_APP_KEY")
CERTS_VARIABLE = "BETFAIR_CERTS"  # optional: certificate login when set, interactive login otherwise


class Mode(StrEnum):
    """How market data arrives and where orders go."""

    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"


@dataclass
class Framework:
    """An assembled, ready-to-run flumine framework and the project's parts wired into it."""

    mode: Mode
    flumine: BaseFlumine
    clock: Clock
    tracker: MarketStateTracker
    signals: SignalBuffer
    strategies: list[ModalStrategy]
    config: LoadedConfig
    safety: SafetyLayer
    recordings: list[Recording] = field(default_factory=list)

    def run(self) -> None:
        """Run until the recordings end (backtest) or the process is stopped (live, paper)."""
        self.flumine.run()

    def stop(self) -> None:
        """Ask a running live or paper framework to finish (from any thread or a signal handler)."""
        self.flumine.handler_queue.put(TerminationEvent(self.flumine))


@dataclass(frozen=True)
class _MarketStream:
    header: MarketHeader
    stream: RecordingStream


def build(
    mode: Mode,
    config: LoadedConfig,
    *,
    paths: list[str | Path] | None = None,
    registry: PluginRegistry | None = None,
    raise_hook_errors: bool = False,
    environ: dict[str, str] | None = None,
    exchange: str | None = None,
) -> Framework:
    """Assemble the framework for a mode; the only place a mode is chosen.

    `exchange` (or `[exchange] url`) points live and paper at a local exchange instead of Betfair."""
    registry = registry or discover()
    env = environ if environ is not None else os.environ
    if mode == Mode.BACKTEST:
        return _build_backtest(config, registry, paths, raise_hook_errors)
    endpoint = exchange_endpoint(config, exchange)
    return _build_exchange(mode, config, registry, raise_hook_errors, env, endpoint)


def exchange_endpoint(config: LoadedConfig, exchange: str | None) -> ExchangeEndpoint | None:
    """The local exchange from --exchange or the config, or None for real Betfair."""
    if exchange:
        return ExchangeEndpoint.parse(exchange)
    if config.app.exchange.url:
        return ExchangeEndpoint.parse(config.app.exchange.url, f"{config.path}: key 'exchange.url'")
    return None


def kill_switch_path(config: LoadedConfig, mode: Mode) -> Path:
    """Where a live or paper framework keeps its kill switch state."""
    return config.resolve(config.app.data_dir) / str(mode) / "killswitch.json"


def _common(
    mode: Mode,
    config: LoadedConfig,
    flumine: BaseFlumine,
    clock: Clock,
    call_log: CallLog,
    store: StateStore,
    alerts: AlertHook,
    post: Callable[[Callable[[], None]], None],
) -> Framework:
    tracker = MarketStateTracker(clock)
    signals = SignalBuffer()
    flumine.add_market_middleware(tracker)  # the signal buffer is added with the first strategy that uses it
    safety = install(flumine, config.app, clock, tracker, store, alerts, call_log, post)
    return Framework(
        mode=mode,
        flumine=flumine,
        clock=clock,
        tracker=tracker,
        signals=signals,
        strategies=[],
        config=config,
        safety=safety,
    )


def _add_strategies(
    framework: Framework,
    registry: PluginRegistry,
    streams_for: Callable[[int], list],
    raise_hook_errors: bool,
) -> None:
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
        framework.safety.strategies.append(strategy)
        if strategy.uses_signals:
            if not signals_added:  # a framework whose strategies use no signals pays nothing for the buffer
                framework.flumine.add_market_middleware(framework.signals)
                signals_added = True
            framework.signals.watch(strategy.stream_ids)


def _build_backtest(config, registry, paths, raise_hook_errors) -> Framework:
    raw_paths = list(paths) if paths else [config.resolve(p) for p in config.app.backtest.paths]
    recordings = [read_header(f) for f in resolve_paths(raw_paths)]
    market_streams = _recording_streams(recordings)
    clock = MarketDataClock()
    call_log = CallLog(clock)
    client = clients.SimulatedClient(execution_cls=partial(LoggedSimulatedExecution, call_log=call_log))
    # a backtest keeps its kill switch in memory: it must neither inherit nor leave state (determinism)
    framework = _common(
        Mode.BACKTEST, config, FlumineSimulation(client=client), clock, call_log, MemoryStore(), LogAlerts(), _now
    )
    framework.recordings = recordings
    for ms in market_streams:
        if ms.header.competition_id:
            framework.safety.competitions[ms.header.market_id] = ms.header.competition_id

    def streams_for(index: int) -> list:
        market_filter = config.app.strategies[index].market_filter
        chosen = [
            ms.stream
            for ms in market_streams
            if market_filter.matches(
                ms.header.event_type_id,
                ms.header.market_type,
                ms.header.country_code,
                ms.header.event_id,
                ms.header.market_id,
            )
        ]
        if not chosen:
            logger.warning("strategy %s matches none of the recordings", config.app.strategies[index].instance_name)
        return chosen

    _add_strategies(framework, registry, streams_for, raise_hook_errors)
    return framework


def _recording_streams(recordings: list[Recording]) -> list[_MarketStream]:
    """One stream per market; the markets of one event are replayed together in publish-time order."""
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
        per_event[header.event_id] = per_event.get(header.event_id, 0) + 1
    streams = []
    for recording, header in chosen:
        grouped = per_event[header.event_id] > 1
        stream = RecordingStream(
            str(recording.path),
            market_id=header.market_id if len(recording.markets) > 1 else None,
            event_processing=grouped,
            event_group=header.event_id if grouped else None,
            event_id=header.event_id,
        )
        streams.append(_MarketStream(header, stream))
    return streams


def credentials_from(environ: dict[str, str]) -> dict[str, str]:
    """Betfair credentials from environment variables; raises CredentialsError naming the missing ones."""
    missing = [name for name in CREDENTIAL_VARIABLES if not environ.get(name)]
    if missing:
        raise CredentialsError(f"missing environment variables for Betfair credentials: {', '.join(missing)}")
    creds = {name: environ[name] for name in CREDENTIAL_VARIABLES}
    if environ.get(CERTS_VARIABLE):
        certs = environ[CERTS_VARIABLE]
        if not Path(certs).is_dir():
            raise CredentialsError(f"{CERTS_VARIABLE}: {certs} is not a directory of certificate files")
        creds[CERTS_VARIABLE] = certs
    return creds


def _now(fn: Callable[[], None]) -> None:
    fn()


def betfair_client(
    environ: dict[str, str],
    endpoint: ExchangeEndpoint | None,
    *,
    paper_trade: bool = False,
    execution_cls=None,
    market_recording_mode: bool = False,
) -> SessionClient:
    """A flumine Betfair client from environment credentials, pointed at a local exchange when given."""
    import betfairlightweight

    creds = credentials_from(environ)
    certs = creds.get(CERTS_VARIABLE)
    trading = betfairlightweight.APIClient(
        creds["BETFAIR_USERNAME"], creds["BETFAIR_PASSWORD"], app_key=creds["BETFAIR_APP_KEY"], certs=certs
    )
    if endpoint is not None:
        point_at(trading, endpoint)
    return SessionClient(
        trading,
        paper_trade=paper_trade,
        execution_cls=execution_cls,
        interactive_login=certs is None,
        market_recording_mode=market_recording_mode,
    )


def _live_streams_for(config: LoadedConfig, stream_class: type) -> Callable[[int], list]:
    def streams_for(index: int) -> list:
        market_filter = config.app.strategies[index].market_filter.streaming()
        return [stream_class(market_filter=market_filter, market_data_filter=MARKET_DATA_FILTER)]

    return streams_for


def _build_exchange(mode, config, registry, raise_hook_errors, environ, endpoint) -> Framework:
    from flumine.streams.betfairmarketstream import BetfairMarketStream

    paper_trade = mode == Mode.PAPER
    clock = WallClock()
    call_log = CallLog(clock)
    execution = None if paper_trade else partial(LoggedBetfairExecution, call_log=call_log)
    client = betfair_client(environ, endpoint, paper_trade=paper_trade, execution_cls=execution)
    flumine = Flumine(client=client)

    def post(fn: Callable[[], None]) -> None:  # run on flumine's main thread
        flumine.handler_queue.put(CustomEvent(None, lambda *_: fn()))

    store = JsonFileStore(kill_switch_path(config, mode))
    framework = _common(mode, config, flumine, clock, call_log, store, alerts_from(environ), post)
    layer = framework.safety
    on_code = call_log.on_error_code

    def observe(code: str) -> None:  # runs on an execution thread: renew before flumine retries the call
        if on_code is not None:
            on_code(code)
        if code in SESSION_CODES:
            client.renew_session(code)

    call_log.on_error_code = observe
    layer.monitor.error_listeners.append(lambda code: code in SESSION_CODES and client.renew_session(code))
    stream_class = type(
        "MonitoredMarketStream", (BetfairMarketStream,), {"LISTENER": monitored_listener(layer.monitor)}
    )
    _add_strategies(framework, registry, _live_streams_for(config, stream_class), raise_hook_errors)
    flumine.add_worker(
        BackgroundWorker(flumine, function=lambda *_: post(layer.tick), interval=0.2, name="paddock_safety_tick")
    )
    exchange_cfg = config.app.exchange
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


@dataclass
class RecorderRun:
    """An assembled market recorder: flumine in recording mode with one raw-data recorder strategy."""

    flumine: BaseFlumine
    recorder: MarketRecorder

    def run(self) -> None:
        """Record until stopped; every open market's file is finished on the way out."""
        self.flumine.run()

    def stop(self) -> None:
        """Ask the recorder to finish (from any thread or a signal handler)."""
        self.flumine.handler_queue.put(TerminationEvent(self.flumine))


def build_recorder(
    config: LoadedConfig,
    *,
    out_dir: str | Path | None = None,
    environ: dict[str, str] | None = None,
    exchange: str | None = None,
) -> RecorderRun:
    """Assemble `record`: subscribe to `[record] market_filter` and write one recording per market."""
    from flumine.streams.betfairdatastream import BetfairDataStream

    env = environ if environ is not None else os.environ
    client = betfair_client(env, exchange_endpoint(config, exchange), market_recording_mode=True)
    flumine = Flumine(client=client)
    out = Path(out_dir) if out_dir else config.resolve(config.app.record.out)
    stream = BetfairDataStream(
        market_filter=config.app.record.market_filter.streaming(), market_data_filter=MARKET_DATA_FILTER
    )
    recorder = MarketRecorder(name="paddock_recorder", streams=[stream], out_dir=out)
    flumine.add_strategy(recorder)
    return RecorderRun(flumine=flumine, recorder=recorder)
