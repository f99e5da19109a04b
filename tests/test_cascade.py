"""Suspension cascades: one handling per event per goal, one cancel call per market, blocked orders, reopen hooks."""

from __future__ import annotations

from flumine.order.order import LimitOrder, OrderStatus
from flumine.order.trade import Trade

from app.assembly import Mode, build
from app.plugins import discover
from core.config import load_config
from strategies.base import ModalStrategy
from tests.conftest import best_back, read_messages, real, run_strategy, write_config


def status_changes(path) -> dict[str, list[tuple[int, str]]]:
    """Per market, (publish time, status) each time the recorded status changes."""
    out: dict[str, list[tuple[int, str]]] = {}
    for message in read_messages(path):
        for change in message.get("mc", []):
            definition = change.get("marketDefinition")
            if definition:
                seen = out.setdefault(change["id"], [])
                if not seen or seen[-1][1] != definition["status"]:
                    seen.append((message["pt"], definition["status"]))
    return out


class Rester(ModalStrategy):
    """Keeps one unmatched PERSIST back order resting in every in-play market; tries to trade suspended markets."""

    plugin_name = "rester"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.suspended_calls: list[tuple[str, float]] = []
        self.suspended_books: list[str] = []
        self.reopened_calls: list[tuple[str, float, bool]] = []

    def _rest(self, market, market_book) -> None:
        runner = market_book.runners[0]
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        order = trade.create_order(side="BACK", order_type=LimitOrder(1000, 2.0, persistence_type="PERSIST"))
        self.place_order(market, order)  # backing at 1000 never matches: it rests until cancelled

    def process_in_play(self, market, market_book) -> None:
        live = [o for o in market.blotter.strategy_orders(self) if o.status is not OrderStatus.EXECUTION_COMPLETE]
        if not live and best_back(market_book, market_book.runners[0].selection_id):
            self._rest(market, market_book)

    def on_suspended(self, market, market_book) -> None:
        self.suspended_calls.append((market.market_id, self.clock.now()))
        self.suspended_books.append(market_book.status)
        self._rest(market, market_book)  # must be refused: the market is suspended

    def on_reopened(self, market, market_book, positions) -> None:
        self.reopened_calls.append((market.market_id, self.clock.now(), market_book.status == "OPEN"))


def test_goal_cascades_are_handled_once_per_event(tmp_path, generated):
    path = generated["football"]
    changes = status_changes(path)
    framework = run_strategy(tmp_path, Rester, [path], market_filter='event_type_ids = ["1"]')
    strategy = framework.strategies[0]
    cascade = framework.safety.cascade
    markets = sorted(changes)
    suspensions = {m: [pt for pt, s in changes[m] if s == "SUSPENDED"] for m in markets}
    reopens = {m: [pt for pt, s in changes[m][1:] if s == "OPEN"] for m in markets}
    goals = len(reopens[markets[0]])
    assert goals >= 1 and all(len(suspensions[m]) == goals + 1 for m in markets)  # goals + full time

    # exactly one handling per event per suspension burst, each covering all four markets
    assert len(cascade.handlings) == goals + 1
    for handling in cascade.handlings:
        assert sorted(handling.markets) == markets
    # the handling happens once the burst is collected: not before the last market of the burst suspended
    for n, handling in enumerate(cascade.handlings):
        last = max(suspensions[m][n] for m in markets) / 1000
        first = min(suspensions[m][n] for m in markets) / 1000
        assert first <= handling.handled_at <= max(last, first + 0.2) + 1e-6

    # one cancel call per market with unmatched orders, per handling, sent when the handling runs
    sent = [c for c in framework.safety.dispatcher.calls if c.operation == "cancel"]
    for handling in cascade.handlings:
        at_handling = sorted(c.market_id for c in sent if c.at == handling.handled_at)
        assert at_handling == markets  # every market had its resting order
        assert sorted(handling.cancel_calls) == markets
    # the exchange received one cancelOrders package per call we sent, nothing more
    received = [c for c in framework.safety.call_log.calls if c.operation == "cancel"]
    assert len(received) == len(sent)

    # on_suspended once per market per handling; its order attempt refused with the cascade as reason
    assert len(strategy.suspended_calls) == 4 * (goals + 1)
    refusals = [r for r in framework.safety.dispatcher.refusals if "suspension cascade" in r.reason]
    assert sorted(r.at for r in refusals) == sorted(at for _, at in strategy.suspended_calls)

    # no order accepted while its market was suspended
    for market in framework.flumine.markets:
        windows = list(zip(suspensions[market.market_id], reopens[market.market_id] + [10**15], strict=False))
        for order in market.blotter:
            placed = order.responses.date_time_placed.timestamp() * 1000
            assert not any(start <= placed < end for start, end in windows), (market.market_id, placed)

    # on_reopened once per market after each reopen, on an open book
    for m in markets:
        calls = [c for c in strategy.reopened_calls if c[0] == m]
        assert len(calls) == goals
        assert all(at >= pt / 1000 and is_open for (_, at, is_open), pt in zip(calls, reopens[m], strict=False))


def test_win_place_pre_race_suspensions_are_two_market_cascades(tmp_path):
    win, place = real("SELF-1.181223994.bz2"), real("SELF-1.181223995.bz2")
    framework = run_strategy(tmp_path, Rester, [win, place])
    handlings = framework.safety.cascade.handlings
    suspensions = sorted(
        (pt, market_id)
        for path in (win, place)
        for market_id, changes in status_changes(path).items()
        for pt, status in changes
        if status == "SUSPENDED"
    )
    # bursts: both markets suspending within the 200 ms debounce window of each other
    together = [
        (a, b) for a, b in zip(suspensions, suspensions[1:], strict=False) if b[0] - a[0] <= 200 and a[1] != b[1]
    ]
    assert len(together) >= 2, "the pair should suspend together several times"
    two_market = [h for h in handlings if sorted(h.markets) == ["1.181223994", "1.181223995"]]
    assert len(two_market) == len(together)
    for ((first_pt, _), _), handling in zip(together, two_market, strict=False):
        assert handling.opened_at == first_pt / 1000
    # every suspension belongs to exactly one handling: one handling per burst, never one per message
    assert sum(len(h.markets) for h in handlings) == len(suspensions)
    assert len(handlings) == len(suspensions) - len(together)


TWO_DESKS = """
[[strategies]]
name = "rester"
label = "match_odds_desk"
[strategies.market_filter]
market_types = ["MATCH_ODDS"]
[[strategies]]
name = "rester"
label = "other_markets_desk"
[strategies.market_filter]
market_types = ["OVER_UNDER_25", "CORRECT_SCORE", "BOTH_TEAMS_TO_SCORE"]
"""


def test_a_strategy_on_one_market_of_the_event_hears_of_the_cascade_when_it_is_handled(tmp_path, generated):
    registry = discover()
    registry.register(Rester, "tests")
    config = load_config(write_config(tmp_path, TWO_DESKS))
    framework = build(Mode.BACKTEST, config, paths=[generated["football"]], registry=registry, raise_hook_errors=True)
    framework.run()
    desk, others = framework.strategies
    handlings = framework.safety.cascade.handlings
    match_odds = next(m.market_id for m in framework.flumine.markets if m.market_type == "MATCH_ODDS")
    # the case that matters: a burst handled on a book of another market, which this desk never receives
    assert any(h.markets[-1] != match_odds for h in handlings)
    assert [at for _, at in desk.suspended_calls] == [h.handled_at for h in handlings]
    assert len(others.suspended_calls) == 3 * len(handlings)
    # each on_suspended order attempt was refused by the cascade at that moment, not placed later
    refused = sorted(r.at for r in framework.safety.dispatcher.refusals if "suspension cascade" in r.reason)
    assert refused == sorted(at for _, at in desk.suspended_calls + others.suspended_calls)


def test_the_debounce_fires_at_its_deadline_before_any_later_book_is_judged(tmp_path):
    win, place = real("SELF-1.181223994.bz2"), real("SELF-1.181223995.bz2")
    framework = run_strategy(tmp_path, Rester, [win, place])
    handlings = framework.safety.cascade.handlings
    strategy = framework.strategies[0]
    # no handling waits for a later book: it runs at its deadline or when the event's last market suspended
    assert all(h.opened_at <= h.handled_at <= h.window_ends + 1e-9 for h in handlings)
    assert any(h.handled_at == h.window_ends for h in handlings), "some bursts run to the deadline"
    # and on_suspended comes then, with the book that suspended the market, never an open one
    window = {m: [h for h in handlings if m in h.markets] for m in ("1.181223994", "1.181223995")}
    for (market_id, at), status in zip(strategy.suspended_calls, strategy.suspended_books, strict=True):
        assert status == "SUSPENDED"
        assert any(h.opened_at <= at <= h.window_ends + 1e-9 for h in window[market_id])
