"""Live and paper builds against the emulator over real sockets: orders, order stream, settlement, faults."""

from __future__ import annotations

import pytest
from flumine.order.order import LimitOrder, OrderStatus
from flumine.order.trade import Trade

from app.assembly import Mode
from app.report import build_report
from core.errors import CredentialsError
from emulator import api
from emulator.faults import Fault
from emulator.server import Emulator
from strategies.base import ModalStrategy
from tests.conftest import real
from tests.live_helpers import CREDENTIALS, LiveRun, calls, wait_for

pytestmark = pytest.mark.slow  # live trading against the emulator: each test waits on a replay

GREYHOUNDS = ("1.197931750.bz2", "1.197931751.bz2")  # WIN and PLACE of one race, 323 s, settled


class BackFavourite(ModalStrategy):
    """Once per market, back the favourite at the best back price on offer (crossing, so it matches)."""

    plugin_name = "back_favourite"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.placed: dict[str, object] = {}
        self.books = 0

    def process_pre_race(self, market, market_book) -> None:
        self.books += 1
        if market.market_id in self.placed or market_book.status != "OPEN":
            return
        runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
        if not runners:
            return
        runner = min(runners, key=lambda r: r.ex.available_to_back[0]["price"])
        price = runner.ex.available_to_back[0]["price"]
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        order = trade.create_order(side="BACK", order_type=LimitOrder(price, 2.0, persistence_type="LAPSE"))
        self.placed[market.market_id] = order
        self.place_order(market, order, decision_price=price)


@pytest.fixture
def greyhounds():
    """The emulator replaying the greyhound WIN/PLACE pair at 80x (the 323 s race in 4 s)."""
    with Emulator([real(name) for name in GREYHOUNDS], speed=80) as emulator:
        yield emulator


def _settled(run: LiveRun) -> bool:
    markets = list(run.framework.flumine.markets)
    return (
        run.emulator.exchange.finished.is_set()
        and len(markets) == 2
        and all(m.closed for m in markets)
        and all(o.cleared_order is not None for o in run.orders() if o.size_matched > 0)
    )


def test_live_orders_match_through_the_order_stream_and_settle_as_the_exchange_clears_them(tmp_path, greyhounds):
    with LiveRun(tmp_path, Mode.LIVE, BackFavourite, greyhounds, market_filter='event_type_ids = ["4339"]') as run:
        wait_for(lambda: _settled(run), 60, "both markets to close and settle")
    orders = run.orders()
    exchange = greyhounds.exchange
    assert len(orders) == 2 and len(calls(greyhounds, "placeOrders")) == 2
    for order in orders:
        placed = exchange.engine.orders[order.bet_id]  # flumine learnt the bet id and fills from the exchange
        assert order.status == OrderStatus.EXECUTION_COMPLETE
        assert order.size_matched == placed.size_matched > 0
        assert order.current_order.average_price_matched == placed.average_price
    cleared = api.list_cleared_orders(exchange, {"betStatus": "SETTLED"})["clearedOrders"]
    report = build_report(run.framework.flumine.markets, 0.05)
    assert report.totals["gross_pnl"] == round(sum(c["profit"] for c in cleared), 2)
    # and the exchange's P&L is the settlement of the fills against the winners in the recording
    expected = 0.0
    for placed in exchange.engine.orders.values():
        won = exchange.markets[placed.market_id].runner_status(placed.selection_id) == "WINNER"
        expected += sum(size * (price - 1) if won else -size for price, size in placed.fills)
    assert report.totals["gross_pnl"] == round(expected, 2)
    assert exchange.calls["listClearedOrders"] >= 2 and exchange.logins == 1


def test_paper_trading_sees_live_data_and_never_sends_an_order(tmp_path, greyhounds):
    with LiveRun(tmp_path, Mode.PAPER, BackFavourite, greyhounds, market_filter='event_type_ids = ["4339"]') as run:
        wait_for(lambda: greyhounds.exchange.finished.is_set() and run.strategy.books > 10, 60, "the replay to end")
        wait_for(lambda: len(run.orders()) == 2, 10, "two paper orders")
    assert all(o.simulated for o in run.orders())
    assert sum(o.size_matched for o in run.orders()) > 0
    assert "placeOrders" not in greyhounds.exchange.calls and not greyhounds.exchange.engine.orders


def test_a_timeout_report_is_resolved_from_the_order_stream_without_a_duplicate(tmp_path, greyhounds):
    greyhounds.exchange.add_faults([Fault(kind="report", status="TIMEOUT", operation="placeOrders", count=2)])
    with LiveRun(tmp_path, Mode.LIVE, BackFavourite, greyhounds, market_filter='event_type_ids = ["4339"]') as run:
        wait_for(lambda: _settled(run), 60, "both markets to close and settle")
    placed = calls(greyhounds, "placeOrders")
    refs = [i["customerOrderRef"] for p in placed for i in p["instructions"]]
    assert len(placed) == 2 and len(refs) == len(set(refs)) == 2  # the answers said TIMEOUT; nothing was sent twice
    assert len(greyhounds.exchange.engine.orders) == 2
    for order in run.orders():
        assert order.bet_id in greyhounds.exchange.engine.orders  # adopted from the order stream
        assert order.status == OrderStatus.EXECUTION_COMPLETE and order.size_matched > 0


def test_a_place_resent_after_a_read_timeout_is_refused_as_a_duplicate_and_the_order_kept(tmp_path):
    # placeOrders answers after 4 s, past the client's read timeout (betfairlightweight's is 16 s; 3 s here):
    # flumine re-sends the package with the same customerRef while the exchange is still working on the first
    with Emulator([real(name) for name in GREYHOUNDS], speed=6) as emulator:
        # a delay fault is in market seconds (wall = seconds / speed): 24 at 6x is the 4 wall seconds needed here
        emulator.exchange.add_faults([Fault(kind="delay", operation="placeOrders", seconds=24)])
        run = LiveRun(tmp_path, Mode.LIVE, BackFavourite, emulator, market_filter='event_type_ids = ["4339"]')
        run.framework.flumine.clients.get_default().betting_client.betting.read_timeout = 3
        with run:
            wait_for(lambda: len(calls(emulator, "placeOrders")) == 3, 30, "the re-sent package")
            wait_for(lambda: len(run.orders()) == 2 and all(o.bet_id for o in run.orders()), 30, "both bet ids")
        placed = calls(emulator, "placeOrders")
        refs = [p["customerRef"] for p in placed]
        assert len(set(refs)) == 2 and refs.count(refs[0]) == 2  # the first package went twice...
        assert len(emulator.exchange.engine.orders) == 2  # ...and was placed once
        assert {o.bet_id for o in run.orders()} == set(emulator.exchange.engine.orders)  # neither is lost
        assert all(o.status in (OrderStatus.EXECUTABLE, OrderStatus.EXECUTION_COMPLETE) for o in run.orders())
        assert run.framework.safety.kill_switch.state == "ACTIVE"


def test_an_invalidated_session_leads_to_a_new_login_and_the_order_goes_through(tmp_path, greyhounds):
    with LiveRun(tmp_path, Mode.LIVE, BackFavourite, greyhounds, market_filter='event_type_ids = ["4339"]') as run:
        wait_for(lambda: greyhounds.exchange.logins == 1 and greyhounds.exchange.subscribers, 20, "login and stream")
        greyhounds.exchange.add_faults([Fault(kind="invalidate_session")])
        wait_for(lambda: _settled(run), 60, "both markets to close and settle")
    assert greyhounds.exchange.logins >= 2
    assert len(greyhounds.exchange.engine.orders) == 2 and all(o.size_matched > 0 for o in run.orders())


class Repeater(ModalStrategy):
    """On every pre-race book, a FILL_OR_KILL lay at 1.01 on the favourite (killed at once, so it never rests)."""

    plugin_name = "repeater"

    def process_pre_race(self, market, market_book) -> None:
        runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
        if market_book.status != "OPEN" or not runners:
            return
        runner = min(runners, key=lambda r: r.ex.available_to_back[0]["price"])
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        order = trade.create_order(side="LAY", order_type=LimitOrder(1.01, 2.0, time_in_force="FILL_OR_KILL"))
        self.place_order(market, order)


def test_a_throttling_answer_trips_the_kill_switch_and_no_new_order_follows(tmp_path, greyhounds):
    with LiveRun(tmp_path, Mode.LIVE, Repeater, greyhounds, market_filter='event_type_ids = ["4339"]') as run:
        wait_for(lambda: len(calls(greyhounds, "placeOrders")) >= 4, 20, "a few orders")
        greyhounds.exchange.add_faults([Fault(kind="error", code="TOO_MANY_REQUESTS", operation="placeOrders")])
        switch = run.framework.safety.kill_switch
        wait_for(lambda: switch.state != "ACTIVE", 20, "the kill switch to trip")
        tripped_at = switch.history[-1].at
        wait_for(lambda: greyhounds.exchange.finished.is_set(), 60, "the replay to end")
    assert switch.history[-1].source == "throttle" and "TOO_MANY_REQUESTS" in switch.reason
    before = {i["customerOrderRef"] for p in calls(greyhounds, "placeOrders") for i in p["instructions"]} - {
        i["customerOrderRef"] for p in calls(greyhounds, "placeOrders", after=tripped_at) for i in p["instructions"]
    }
    after = [i for p in calls(greyhounds, "placeOrders", after=tripped_at) for i in p["instructions"]]
    # what arrives after the trip was created before it (in flight, or flumine's retry); no new order is made
    created = {o.customer_order_ref: o.date_time_created.timestamp() for o in run.orders()}
    assert all(created[i["customerOrderRef"]] <= tripped_at for i in after)
    assert len(before) >= 3
    assert sum("kill switch" in r.reason for r in run.framework.safety.dispatcher.refusals) > 5


def test_wrong_credentials_fail_with_one_clear_message(tmp_path):
    with Emulator([real(GREYHOUNDS[0])], speed=20, password="right") as emulator:
        run = LiveRun(tmp_path, Mode.LIVE, BackFavourite, emulator)
        with pytest.raises(CredentialsError, match="INVALID_USERNAME_OR_PASSWORD"):
            run.framework.run()
        assert emulator.exchange.logins == 0 and CREDENTIALS["BETFAIR_PASSWORD"] != "right"
