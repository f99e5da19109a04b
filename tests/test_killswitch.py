"""Kill switch: every trigger trips it; after a trip no new order passes, cancels and hedges do; durable; reset."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flumine.order.order import LimitOrder, OrderStatus
from flumine.order.orderpackage import BetfairOrderPackage, OrderPackageType
from flumine.order.trade import Trade

from app.assembly import Mode, build, kill_switch_path
from app.cli import main
from app.plugins import discover
from controls.killswitch import KillSwitch, TradingState
from controls.store import JsonFileStore
from controls.watchdog import monitored_listener
from core.clock import WallClock
from core.config import load_config
from strategies.base import ModalStrategy
from tests.conftest import ROOT, SHARED, all_orders, best_back, real, run_strategy, write_config

SAMPLES = SHARED / "betfair-samples"


def sample(name: str) -> str:
    """A recorded Betfair API message."""
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared is absent)")
    return path.read_text().strip()


# --- manual trigger, durability, reset ---


def test_manual_trip_survives_restart_and_reset_is_recorded(tmp_path, capsys):
    config = write_config(tmp_path, '[[strategies]]\nname = "inplay_favourite"\n', 'data_dir = "state"\n')
    assert main(["kill-switch", "trip", "--config", str(config), "--reason", "operator check"]) == 0
    path = kill_switch_path(load_config(config), Mode.LIVE)
    assert path == tmp_path / "state" / "live" / "killswitch.json"
    # a restart: a new switch on the same store starts HALTED, with the history
    restarted = KillSwitch(WallClock(), JsonFileStore(path))
    assert restarted.state is TradingState.HALTED
    assert [(c.action, c.source, c.reason) for c in restarted.history] == [("trip", "manual", "operator check")]
    capsys.readouterr()
    assert main(["kill-switch", "status", "--config", str(config)]) == 0
    assert "HALTED" in capsys.readouterr().out
    assert main(["kill-switch", "reset", "--config", str(config), "--reason", "checked"]) == 0
    after = KillSwitch(WallClock(), JsonFileStore(path))
    assert after.state is TradingState.ACTIVE
    assert [c.action for c in after.history] == ["trip", "reset"]
    assert after.history[-1].reason == "checked"
    # the paper bot's switch is a different one
    assert (
        KillSwitch(WallClock(), JsonFileStore(kill_switch_path(load_config(config), Mode.PAPER))).state
        is TradingState.ACTIVE
    )


def test_running_bot_sees_a_trip_made_by_another_process(tmp_path):
    path = tmp_path / "killswitch.json"
    bot = KillSwitch(WallClock(), JsonFileStore(path))
    seen = []
    bot.on_trip(seen.append)
    KillSwitch(WallClock(), JsonFileStore(path)).trip("from the CLI")
    assert bot.state is TradingState.ACTIVE  # not until the bot refreshes (its safety tick does)
    assert bot.refresh()
    assert bot.state is TradingState.HALTED and [c.reason for c in seen] == ["from the CLI"]


# --- after a trip: no new orders, cancels and hedges pass ---


class TripsInPlay(ModalStrategy):
    """Backs the favourite and rests an order; trips the switch a minute in play; keeps trying; then hedges."""

    plugin_name = "trips_in_play"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tripped_at: float | None = None
        self.attempts_after_trip = 0

    def _order(self, market, runner, price, persistence="LAPSE"):
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        return trade.create_order(side="BACK", order_type=LimitOrder(price, 2.0, persistence_type=persistence))

    def process_in_play(self, market, market_book) -> None:
        memo = market.context.setdefault(self.name, {"since": self.clock.now()})
        runners = sorted(market_book.runners, key=lambda r: best_back(market_book, r.selection_id) or 1000)
        favourite, other = runners[0], runners[-1]
        if "placed" not in memo:
            memo["placed"] = True
            self.place_order(market, self._order(market, favourite, best_back(market_book, favourite.selection_id)))
            self.place_order(market, self._order(market, other, 1000, "PERSIST"))  # rests unmatched
            return
        if self.tripped_at is None and self.clock.now() - memo["since"] > 60:
            self.safety.kill_switch.trip("test trip", source="manual")
            self.tripped_at = self.clock.now()
            self.hedge(market)  # a hedge still passes
            return
        if self.tripped_at is not None and self.attempts_after_trip < 20:
            self.attempts_after_trip += 1
            self.place_order(market, self._order(market, other, 1000, "PERSIST"))


def test_after_a_trip_only_cancels_and_hedges_pass(tmp_path, generated):
    framework = run_strategy(
        tmp_path, TripsInPlay, [generated["football"]], market_filter='market_types = ["MATCH_ODDS"]'
    )
    strategy = framework.strategies[0]
    switch = framework.safety.kill_switch
    assert switch.state is TradingState.HALTED and strategy.tripped_at is not None
    orders = all_orders(framework)
    placed_after = [
        o
        for o in orders
        if o.responses.date_time_placed.timestamp() > strategy.tripped_at and not o.context.get("paddock_hedge")
    ]
    assert placed_after == []
    refused = [r for r in framework.safety.dispatcher.refusals if r.at >= strategy.tripped_at]
    assert len(refused) == strategy.attempts_after_trip == 20
    assert all("kill switch HALTED" in r.reason for r in refused)
    resting = [o for o in orders if o.order_type.price == 1000]
    assert len(resting) == 1 and resting[0].size_cancelled == 2.0  # the trip cancelled it
    cancels = [c for c in framework.safety.dispatcher.calls if c.operation == "cancel"]
    assert any(c.at == strategy.tripped_at for c in cancels)
    hedges = [o for o in orders if o.context.get("paddock_hedge")]
    assert hedges, "the hedge placed after the trip was refused"
    assert all(
        o.order_type.time_in_force == "FILL_OR_KILL" and o.status is OrderStatus.EXECUTION_COMPLETE for o in hedges
    )


# --- automatic triggers ---


class PlacesTwice(ModalStrategy):
    """A buggy strategy: places the same order object twice (flumine raises in the order path)."""

    plugin_name = "places_twice"

    def process_in_play(self, market, market_book) -> None:
        memo = market.context.setdefault(self.name, {})
        if memo.get("done"):
            self.place_order(market, self._order(market, market_book))  # must be refused after the trip
            return
        memo["done"] = True
        order = self._order(market, market_book)
        self.place_order(market, order)
        self.place_order(market, order)

    def _order(self, market, market_book):
        runner = market_book.runners[0]
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        return trade.create_order(side="BACK", order_type=LimitOrder(1000, 2.0, persistence_type="LAPSE"))


def test_exception_in_the_order_path_trips(tmp_path, generated):
    framework = run_strategy(
        tmp_path, PlacesTwice, [generated["football"]], market_filter='market_types = ["MATCH_ODDS"]'
    )
    switch = framework.safety.kill_switch
    assert switch.state is TradingState.HALTED
    trip = switch.history[0]
    assert trip.source == "order_error" and "already been placed" in trip.reason
    alerts = framework.safety.alerts.alerts
    assert [a.title for a in alerts] == ["order path exception", "kill switch HALTED"]
    assert "already been placed" in str(alerts[0].error) and alerts[0].context["market_id"].startswith("1.")
    assert len(all_orders(framework)) == 1  # the first placement only
    assert all("kill switch HALTED" in r.reason for r in framework.safety.dispatcher.refusals)
    assert framework.safety.dispatcher.refusals


class BacksEveryRunner(ModalStrategy):
    """Backs every runner at the best price ten minutes before the off: a loss unless an outsider wins."""

    plugin_name = "backs_every_runner"

    def process_pre_race(self, market, market_book) -> None:
        memo = market.context.setdefault(self.name, {})
        if memo.get("done") or market.seconds_to_start is None or market.seconds_to_start > 600:
            return
        memo["done"] = True
        for runner in market_book.runners:
            price = best_back(market_book, runner.selection_id)
            if runner.status == "ACTIVE" and price:
                trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
                self.place_order(market, trade.create_order(side="BACK", order_type=LimitOrder(price, 2.0)))


def test_daily_drawdown_trips(tmp_path):
    path = real("PRO-1.170258213.bz2")
    framework = run_strategy(tmp_path, BacksEveryRunner, [path], extra="[kill_switch]\nmax_daily_drawdown = 3.0\n")
    orders = all_orders(framework)
    settled = sum(o.profit for o in orders)
    assert len(orders) > 3 and settled < -3.0  # the backtest lost past the drawdown
    switch = framework.safety.kill_switch
    assert switch.state is TradingState.HALTED
    assert switch.history[0].source == "drawdown" and "below -3.0" in switch.history[0].reason
    # the same run without the limit does not trip
    quiet = run_strategy(tmp_path, BacksEveryRunner, [path])
    assert quiet.safety.kill_switch.state is TradingState.ACTIVE


# --- live wiring: throttling answers and stream silence (real betfairlightweight over real sockets) ---


def live_framework(tmp_path: Path, extra: str = ""):
    certs = tmp_path / "certs"
    certs.mkdir()
    config = write_config(tmp_path, '[[strategies]]\nname = "inplay_favourite"\n', f'data_dir = "state"\n{extra}')
    environ = {"BETFAIR_USERNAME": "u", "BETFAIR_PASSWORD": "p", "BETFAIR_APP_KEY": "k", "BETFAIR_CERTS": str(certs)}
    return build(Mode.LIVE, load_config(config), registry=discover(), environ=environ)


def run_posted(framework) -> None:
    """Run what other threads handed to flumine's main thread (its handler queue)."""
    queue = framework.flumine.handler_queue
    while not queue.empty():
        event = queue.get_nowait()
        event.callback(framework.flumine, event)


def throttled_report() -> bytes:
    body = json.loads(sample("place_orders.json"))
    body["result"]["status"] = "FAILURE"
    body["result"]["errorCode"] = "TRANSACTION_THROTTLE_EXCEEDED"
    body["result"]["instructionReports"][0].update(status="FAILURE", errorCode="ERROR_IN_ORDER")
    return json.dumps(body).encode()


def throttled_exception() -> bytes:
    error = {"code": -32099, "message": "ANGX-0007", "data": {"exceptionname": "APINGException",
             "APINGException": {"errorCode": "TOO_MANY_REQUESTS", "errorDetails": "", "requestUUID": "x"}}}  # fmt: skip
    return json.dumps({"jsonrpc": "2.0", "error": error, "id": 1}).encode()


@pytest.mark.parametrize(
    "answer,code", [(throttled_report, "TRANSACTION_THROTTLE_EXCEEDED"), (throttled_exception, "TOO_MANY_REQUESTS")]
)
def test_throttling_answer_from_the_exchange_trips(tmp_path, answer, code):
    body = answer()
    requests_seen = []

    class Exchange(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            requests_seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Exchange)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        framework = live_framework(tmp_path)
        client = framework.flumine.clients.get_default()
        client.betting_client.api_uri = f"http://127.0.0.1:{server.server_port}/"
        client.betting_client.set_session_token("token")
        trade = Trade("1.125897784", 9486865, 0.0, framework.strategies[0])
        order = trade.create_order(side="LAY", order_type=LimitOrder(1.01, 2.0))
        order.update_client(client)
        order.place(int(time.time() * 1000), None, False)
        package = BetfairOrderPackage(client, "1.125897784", [order], OrderPackageType.PLACE, bet_delay=0)
        client.execution.handler(package)  # flumine's execution thread pool sends placeOrders
        client.execution.shutdown()  # waits for the call (and flumine's own retries of it)
    finally:
        server.shutdown()
    assert requests_seen and requests_seen[0]["method"] == "SportsAPING/v1.0/placeOrders"
    run_posted(framework)
    switch = framework.safety.kill_switch
    assert switch.state is TradingState.HALTED
    assert switch.history[0].source == "throttle" and code in switch.history[0].reason
    assert json.loads((tmp_path / "state" / "live" / "killswitch.json").read_text())["state"] == "HALTED"


def test_stream_silence_trips_heartbeats_keep_it_alive(tmp_path):
    framework = live_framework(tmp_path, "[kill_switch]\nstream_timeout = 0.4\n")
    layer = framework.safety
    listener = monitored_listener(layer.monitor)()
    listener.register_stream(2, "marketSubscription")
    listener.on_data(sample("streaming_connection.json"))
    listener.on_data(sample("streaming_mcm_SUB_IMAGE.json"))
    for _ in range(8):  # 0.8 s of heartbeats only: alive
        time.sleep(0.1)
        listener.on_data(sample("streaming_mcm_HEARTBEAT.json"))
        layer.check_stream()
    assert layer.kill_switch.state is TradingState.ACTIVE
    unavailable = json.loads(sample("streaming_503.json"))  # the sample has no pt; betfairlightweight needs one
    for _ in range(6):  # 503 status messages are not signs of life
        time.sleep(0.1)
        listener.on_data(json.dumps({**unavailable, "pt": int(time.time() * 1000)}))
        layer.check_stream()
    assert layer.kill_switch.state is TradingState.HALTED
    assert layer.kill_switch.history[0].source == "stream"
    assert layer.monitor.statuses and "503" in layer.monitor.statuses[0][2]


# --- backtests: a trip halts the rest of its event, not every later recording ---


class TripsAtOnce(ModalStrategy):
    """Trips the switch on its very first book, then asks for one resting order in every market."""

    plugin_name = "trips_at_once"

    def process_pre_race(self, market, market_book) -> None:
        switch = self.safety.kill_switch
        if not switch.history:
            switch.trip("test trip in the first event", source="manual")
        memo = market.context.setdefault(self.name, {})
        if memo:
            return
        memo["asked"] = True
        runner = market_book.runners[0]
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        self.place_order(market, trade.create_order(side="BACK", order_type=LimitOrder(1000, 2.0)))


@pytest.mark.parametrize("scope", ["event", "run"])
def test_a_trip_in_one_event_group_does_not_carry_into_the_next_unless_asked(tmp_path, scope):
    first, second = real("1.197931750.bz2"), ROOT / "recordings" / "race-1.gz"
    framework = run_strategy(
        tmp_path, TripsAtOnce, [first, second], extra=f'[backtest]\nkill_switch_scope = "{scope}"\n'
    )
    by_event: dict[str, list] = {}
    for market in framework.flumine.markets:
        by_event.setdefault(market.event_id, []).extend(market.blotter)
    assert set(by_event) == {"31389771", "36000001"}
    assert by_event["31389771"] == []  # refused in the event that tripped
    if scope == "event":
        assert len(by_event["36000001"]) == 2  # the next event started fresh: both its markets traded
    else:
        assert by_event["36000001"] == []
    report = framework.report()
    assert [(t.event_id, t.state, t.source) for t in report.trips] == [("31389771", "HALTED", "manual")]
    refused = report.summary.groupby("market_id")["refused"].sum()
    assert refused.sum() == (1 if scope == "event" else 3)


# --- a damaged state file fails closed ---


def test_garbage_in_the_state_file_while_live_runs_halts_once_and_the_tick_goes_on(tmp_path, caplog):
    framework = live_framework(tmp_path)
    layer = framework.safety
    switch = layer.kill_switch
    assert switch.state is TradingState.ACTIVE
    path = tmp_path / "state" / "live" / "killswitch.json"
    path.write_text("garbage {")
    for _ in range(5):  # five safety ticks: none raises, one error line, one alert
        layer.tick()
    assert switch.state is TradingState.HALTED and switch.damage and "not valid JSON" in switch.reason
    assert [t for t, _ in switch.alerts.sent] == ["kill switch HALTED"]
    assert sum("cannot be read" in r.getMessage() for r in caplog.records) == 1
    assert layer.tick_errors == {}
    # the CLI works on the damaged file too: trip keeps it HALTED, reset rewrites it and keeps the old one
    config = tmp_path / "config.toml"
    assert main(["kill-switch", "trip", "--config", str(config)]) == 0
    assert main(["kill-switch", "reset", "--config", str(config), "--reason", "checked"]) == 0
    assert KillSwitch(WallClock(), JsonFileStore(path)).state is TradingState.ACTIVE
    assert list(path.parent.glob("killswitch.json.damaged-*"))[0].read_text() == "garbage {"
    layer.tick()
    assert switch.state is TradingState.ACTIVE and switch.damage is None  # the running bot sees the reset


@pytest.mark.parametrize(
    "content",
    [
        '{"state": "BOGUS", "history": []}',
        '{"history": [{"action": "trip"}]}',
        '{"state": "HALTED", "history": 3}',
        "[]",
    ],
)
def test_a_state_file_with_bad_contents_reads_as_halted_with_one_clear_line(tmp_path, capsys, content):
    config = write_config(tmp_path, '[[strategies]]\nname = "inplay_favourite"\n', 'data_dir = "state"\n')
    path = tmp_path / "state" / "live" / "killswitch.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert main(["kill-switch", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "cannot be read" in out and "HALTED" in out and "Traceback" not in out
    assert live_framework(tmp_path).safety.kill_switch.state is TradingState.HALTED


def test_live_refuses_to_start_halted_unless_asked_and_says_what_it_inherits(tmp_path, capsys, monkeypatch):
    for name, value in {"BETFAIR_USERNAME": "u", "BETFAIR_PASSWORD": "p", "BETFAIR_APP_KEY": "k"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BETFAIR_CERTS", raising=False)
    config = write_config(tmp_path, '[[strategies]]\nname = "inplay_favourite"\n', 'data_dir = "state"\n')
    assert main(["kill-switch", "trip", "--config", str(config), "--reason", "exchange went away"]) == 0
    capsys.readouterr()
    nowhere = "http://127.0.0.1:9?stream_port=9"  # nothing listens: a start that gets as far as logging in fails there
    assert main(["live", "--config", str(config), "--exchange", nowhere]) == 2
    err = capsys.readouterr().err
    assert "kill switch is HALTED, inherited from the last run" in err and "exchange went away" in err
    assert f"python main.py kill-switch reset --config {config} --mode live" in err
    assert "live does not start while the kill switch is HALTED" in err and "--start-halted" in err
    code = main(["live", "--config", str(config), "--exchange", nowhere, "--start-halted"])
    err = capsys.readouterr().err
    assert code == 2 and "inherited from the last run" in err and "does not start" not in err
    assert "login failed" in err  # it went on to log in
