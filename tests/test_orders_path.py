"""Rate limit and batching, FILL_OR_KILL hedges after a reopen, profit target / stop loss, determinism."""

from __future__ import annotations

from flumine.order.order import LimitOrder, OrderStatus
from flumine.order.trade import Trade

from app.report import build_report
from core.greenup import Fill, outcome_profits
from strategies.base import ModalStrategy
from tests.conftest import all_orders, best_back, run_strategy


class Burst(ModalStrategy):
    """Once all four markets of the match are known: 20 orders, 5 on each market, from one decision."""

    plugin_name = "burst"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list = []
        self.at: float | None = None

    def process_pre_race(self, market, market_book) -> None:
        markets = [self.safety.flumine.markets.markets.get(m) for m in sorted(self.tracker.events[market.event_id])]
        if self.sent or len(markets) < 4 or any(m is None or m.market_book is None for m in markets):
            return
        self.at = self.clock.now()
        for target in markets:
            runners = target.market_book.runners
            trades = {r.selection_id: Trade(target.market_id, r.selection_id, r.handicap, self) for r in runners}
            for i in range(5):
                runner = runners[i % len(runners)]
                order = trades[runner.selection_id].create_order(side="BACK", order_type=LimitOrder(1000, 2.0))
                self.sent.append(order)
                self.place_order(target, order)


def test_burst_of_20_over_4_markets_is_4_calls_within_the_rate(tmp_path, generated):
    framework = run_strategy(
        tmp_path,
        Burst,
        [generated["football"]],
        extra="[risk]\none_in_flight = false\n[rate_limit]\npre_race = 2\n",
        market_filter='event_type_ids = ["1"]',
    )
    strategy = framework.strategies[0]
    places = [c for c in framework.safety.call_log.calls if c.operation == "place"]  # what the exchange received
    assert len(strategy.sent) == 20 and all(o.bet_id for o in strategy.sent)
    assert len(places) == 4
    assert len({c.market_id for c in places}) == 4
    assert all(c.instructions == 5 for c in places)
    sent = [c for c in framework.safety.dispatcher.calls if c.operation == "place"]
    times = sorted(c.at for c in sent)
    assert times[0] == strategy.at and times[1] == strategy.at  # two now,
    assert times[2] >= strategy.at + 1.0  # the other two waited for the next second, in order
    for t in times:
        assert sum(1 for u in times if t <= u < t + 1.0) <= 2


def test_without_a_tight_limit_the_burst_goes_at_once(tmp_path, generated):
    framework = run_strategy(
        tmp_path,
        Burst,
        [generated["football"]],
        extra="[risk]\none_in_flight = false\n",
        market_filter='event_type_ids = ["1"]',
    )
    sent = [c for c in framework.safety.dispatcher.calls if c.operation == "place"]
    assert len(sent) == 4 and len({c.at for c in sent}) == 1


class Backer(ModalStrategy):
    """Backs the favourite at the best price shortly after the off, once per market."""

    plugin_name = "backer"

    def choose(self, market_book):
        """(price, runner) to back, or None."""
        runner = min(market_book.runners, key=lambda r: best_back(market_book, r.selection_id) or 1000)
        price = best_back(market_book, runner.selection_id)
        return (price, runner) if price else None

    def process_in_play(self, market, market_book) -> None:
        memo = market.context.setdefault(self.name, {})
        if memo.get("done") or market.market_type != "MATCH_ODDS":
            return
        chosen = self.choose(market_book)
        if chosen:
            memo["done"] = True
            price, runner = chosen
            trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
            self.place_order(market, trade.create_order(side="BACK", order_type=LimitOrder(price, 5.0)), price)


def run_hedging(tmp_path, cls: type[Backer], generated):
    """Backtest a Backer on the generated match's MATCH_ODDS with the hedge policy at reopens."""
    return run_strategy(
        tmp_path,
        cls,
        [generated["football"]],
        extra='[cascade]\npolicy = "hedge"\n',
        market_filter='market_types = ["MATCH_ODDS"]',
    )


def test_position_opened_in_play_is_hedged_after_reopen_with_fill_or_kill(tmp_path, generated):
    framework = run_hedging(tmp_path, Backer, generated)
    runs = framework.safety.hedger.runs
    assert runs, "no hedge ran after the reopen"
    first_reopen = framework.safety.cascade.handlings[0].done
    run = runs[0]
    assert "reopen after cascade #1" in run.reason and run.started_at >= min(first_reopen.values())
    hedges = [o for o in all_orders(framework) if o.context.get("paddock_hedge")]
    assert hedges and set(map(id, hedges)) == {id(o) for r in runs for o in r.orders}
    for order in hedges:
        assert order.order_type.time_in_force == "FILL_OR_KILL" and order.order_type.persistence_type == "LAPSE"
        assert order.status is OrderStatus.EXECUTION_COMPLETE and order.size_remaining == 0  # never left resting
    # each attempt went in one placeOrders call
    calls = [c for c in framework.safety.dispatcher.calls if c.operation == "place"]
    for attempt in {o.context["hedge_attempt"] for o in run.orders}:
        orders = [o for o in run.orders if o.context["hedge_attempt"] == attempt]
        assert any(c.instructions == len(orders) and c.market_id == run.market_id for c in calls)
    if run.outcome == "green":
        market = framework.flumine.markets.markets[run.market_id]
        matched = [o for o in all_orders(framework) if o.market_id == run.market_id and o.size_matched]
        fills = [Fill(o.selection_id, o.side, o.average_price_matched, o.size_matched) for o in matched]
        profits = outcome_profits(fills, [r.selection_id for r in market.market_book.runners])
        assert max(profits.values()) - min(profits.values()) < 0.1
    else:
        assert run.outcome == "failed" and framework.safety.kill_switch.state.value == "REDUCING"


def test_inplay_favourite_uses_ticks_target_and_the_layer_is_deterministic(tmp_path, generated):
    paths = [generated["football"], generated["football2"]]
    params = "delay = 10\nprofit_target = 2\nstop_loss = 2\n"
    extra = '[cascade]\npolicy = "hedge"\n'
    reports = []
    for n in (1, 2):
        (tmp_path / str(n)).mkdir()
        framework = run_strategy_named(tmp_path / str(n), "inplay_favourite", paths, params, extra)
        runs = framework.safety.hedger.runs
        reports.append(
            (
                build_report(framework.flumine.markets, 0.05, framework.safety.dispatcher.refusals),
                [(r.market_id, r.reason, r.attempts, r.outcome, r.started_at) for r in runs],
                [(c.at, c.market_id, c.operation, c.instructions) for c in framework.safety.dispatcher.calls],
                [(h.event_id, h.handled_at, tuple(h.markets)) for h in framework.safety.cascade.handlings],
            )
        )
    (first, runs1, calls1, cascades1), (second, runs2, calls2, cascades2) = reports
    assert any("profit target" in r[1] or "stop loss" in r[1] for r in runs1)
    assert first.orders.drop(columns=["placed_at"]).equals(second.orders.drop(columns=["placed_at"]))
    assert first.orders["placed_at"].tolist() == second.orders["placed_at"].tolist()
    assert first.summary.equals(second.summary) and first.totals == second.totals
    assert runs1 == runs2 and calls1 == calls2 and cascades1 == cascades2


def run_strategy_named(tmp_path, name, paths, params, extra):
    """Backtest a shipped plugin by name with params and extra config."""
    from app.assembly import Mode, build
    from app.plugins import discover
    from core.config import load_config
    from tests.conftest import write_config

    strategies = f'[[strategies]]\nname = "{name}"\n[strategies.params]\n{params}\n'
    framework = build(
        Mode.BACKTEST, load_config(write_config(tmp_path, strategies, extra)), paths=paths, registry=discover()
    )
    framework.run()
    return framework


class BigBacker(ModalStrategy):
    """Backs the favourite for more than the best level holds, sweeping three levels of the ladder."""

    plugin_name = "big_backer"

    def process_in_play(self, market, market_book) -> None:
        memo = market.context.setdefault(self.name, {})
        if memo.get("done"):
            return
        runner = min(market_book.runners, key=lambda r: best_back(market_book, r.selection_id) or 1000)
        ladder = runner.ex.available_to_back
        if len(ladder) >= 3:
            memo["done"] = True
            trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
            self.place_order(market, trade.create_order(side="BACK", order_type=LimitOrder(ladder[2]["price"], 500.0)))


def run_killed_hedges(tmp_path, generated):
    """BigBacker on the generated match, hedged at reopens with two attempts at the best price."""
    return run_strategy(
        tmp_path,
        BigBacker,
        [generated["football"]],
        params="max_order_exposure = 5000\nmax_selection_exposure = 5000\n",
        extra='[cascade]\npolicy = "hedge"\n[hedge]\nhedge_max_attempts = 2\nhedge_max_ticks = 0\n',
        market_filter='market_types = ["MATCH_ODDS"]',
    )


def test_killed_hedges_are_retried_then_the_switch_reduces_and_alerts(tmp_path, generated):
    framework = run_killed_hedges(tmp_path, generated)
    run = framework.safety.hedger.runs[0]
    assert run.outcome == "failed" and run.attempts == 2
    assert all(o.status is OrderStatus.EXECUTION_COMPLETE for o in run.orders)
    for attempt in (1, 2):  # every attempt had an order killed: the position never got flat
        assert any(o.size_matched == 0 for o in run.orders if o.context["hedge_attempt"] == attempt)
    switch = framework.safety.kill_switch
    assert switch.state.value == "REDUCING" and switch.history[0].source == "hedge"
    assert any(title == "hedge failed" for title, _ in switch.alerts.sent)


def test_a_killed_hedge_is_retried_on_the_book_that_killed_it(tmp_path, generated):
    """The retry goes on the first book after latency + bet delay (where the exchange decided), not one later."""
    import json

    import smart_open
    from flumine import config as flumine_config

    framework = run_killed_hedges(tmp_path, generated)
    run = framework.safety.hedger.runs[0]
    first, second = (next(o for o in run.orders if o.context["hedge_attempt"] == n) for n in (1, 2))
    books, delay = [], 0
    with smart_open.open(str(generated["football"])) as f:
        for line in f:
            message = json.loads(line)
            for change in message.get("mc", ()):
                if change["id"] == run.market_id:
                    books.append(message["pt"] / 1000)
                    definition = change.get("marketDefinition")
                    if definition and message["pt"] / 1000 <= first.context["placed_at"]:
                        delay = definition.get("betDelay", 0)
    due = first.context["placed_at"] + flumine_config.place_latency + delay
    assert delay > 0, "the hedge was placed in play"
    assert second.context["placed_at"] == next(pt for pt in books if pt > due)


class LongshotBacker(Backer):
    """Backs the longest-priced runner (up to 30) for 5.00 in play, once per market."""

    plugin_name = "longshot_backer"

    def choose(self, market_book):
        """The longest price up to 30 and its runner, or None."""
        priced = [(best_back(market_book, r.selection_id), r) for r in market_book.runners]
        priced = [(p, r) for p, r in priced if p and p <= 30]
        return max(priced, key=lambda pr: pr[0]) if priced else None


def test_hedge_lay_above_max_order_exposure_is_not_refused_by_flumine(tmp_path, generated):
    framework = run_hedging(tmp_path, LongshotBacker, generated)
    strategy = framework.strategies[0]
    assert strategy.max_order_exposure == 10.0  # the default cap, which a 5.00 back passes
    hedges = [o for o in all_orders(framework) if o.context.get("paddock_hedge")]
    assert hedges, "no hedge was placed"
    assert [r.outcome for r in framework.safety.hedger.runs] == ["green"]
    assert framework.safety.kill_switch.state.value == "ACTIVE"
    liabilities = [(o.order_type.price - 1) * o.order_type.size for o in hedges if o.side == "LAY"]
    assert max(liabilities) > strategy.max_order_exposure  # flumine's own cap would have refused this one
    assert all(o.bet_id for o in hedges)  # they reached the exchange
