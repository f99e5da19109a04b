"""ModalStrategy over real recordings: phase switch, suspension handling, rate limit, ordering."""

from __future__ import annotations

import pytest

from tests.conftest import Probe, read_messages, real, run_probe

REAL_FILES = [
    "PRO-1.170258213.bz2",
    "SELF-1.181223994.bz2",
    "SELF-1.181223995.bz2",
    "1.200806927.bz2",
    "1.197931750.bz2",
    "1.197931751.bz2",
    "BASIC-1.132153978",
    "BASIC-1.132153978.gz",
]


def first_in_play_pt(path) -> int | None:
    """Publish time of the first line whose market definition says inPlay."""
    for message in read_messages(path):
        for change in message["mc"]:
            if change.get("marketDefinition", {}).get("inPlay"):
                return message["pt"]
    return None


def probe_of(framework) -> Probe:
    return next(s for s in framework.strategies if isinstance(s, Probe))


@pytest.mark.parametrize("name", REAL_FILES)
def test_each_real_recording_backtests_with_exact_on_in_play(probe_runs, name):
    path = real(name)
    framework = probe_runs(name)
    probe = probe_of(framework)
    market_id = framework.recordings[0].markets[0].market_id
    expected = first_in_play_pt(path)
    in_play = probe.hooks("on_in_play", market_id)
    if expected is None:
        assert in_play == []
    else:
        assert len(in_play) == 1
        assert in_play[0][2] == expected
        assert in_play[0][4] is True
    assert len(probe.hooks("on_closed", market_id)) == 1
    assert probe.hooks("process_pre_race", market_id), "pre-race books were evaluated"
    assert framework.tracker.get(market_id).status == "CLOSED"


@pytest.mark.parametrize("name", ["PRO-1.170258213.bz2", "SELF-1.181223994.bz2", "1.200806927.bz2"])
def test_process_hooks_never_see_a_suspending_or_closed_book(probe_runs, name):
    framework = probe_runs(name)
    probe = probe_of(framework)
    processed = probe.hooks("process_pre_race") + probe.hooks("process_in_play")
    assert processed
    assert {c[3] for c in processed} == {"OPEN"}
    suspended_at = {(c[1], c[2]) for c in probe.hooks("on_suspended")}
    assert suspended_at, "the recording has suspensions"
    assert not suspended_at & {(c[1], c[2]) for c in processed}
    # in-play books only go to process_in_play, pre-race books only to process_pre_race
    assert all(not c[4] for c in probe.hooks("process_pre_race"))
    assert all(c[4] for c in probe.hooks("process_in_play"))


def test_suspend_reopen_cycles_match_the_file(probe_runs):
    path = real("PRO-1.170258213.bz2")
    statuses = []
    for message in read_messages(path):
        for change in message["mc"]:
            status = change.get("marketDefinition", {}).get("status")
            if status and (not statuses or statuses[-1] != status):
                statuses.append(status)
    framework = probe_runs("PRO-1.170258213.bz2")
    probe = probe_of(framework)
    assert len(probe.hooks("on_suspended")) == statuses.count("SUSPENDED")
    assert len(probe.hooks("on_reopened")) == statuses.count("OPEN") - 1


def test_pre_race_evaluations_never_closer_than_the_interval(tmp_path):
    config = """
[[strategies]]
name = "probe"
[strategies.params]
pre_race_interval = 2.0
"""
    framework = run_probe(tmp_path, [real("SELF-1.181223994.bz2")], strategies=config)
    times = [c[2] for c in probe_of(framework).hooks("process_pre_race")]
    assert len(times) > 10
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 2000


def test_win_and_place_books_arrive_interleaved_in_publish_time_order(tmp_path):
    win, place = real("SELF-1.181223994.bz2"), real("SELF-1.181223995.bz2")
    framework = run_probe(tmp_path, [win, place])
    probe = probe_of(framework)
    books = [c for c in probe.calls if c[0] in ("process_pre_race", "process_in_play", "on_reopened")]
    times = [c[2] for c in books]
    assert times == sorted(times)
    # on_suspended comes at the cascade's deadline with the book that suspended the market (stale prices),
    # which may be older than a book of the other market evaluated while the suspensions were collected
    assert probe.hooks("on_suspended") and {c[3] for c in probe.hooks("on_suspended")} == {"SUSPENDED"}
    markets = [c[1] for c in books]
    assert set(markets) == {"1.181223994", "1.181223995"}
    switches = sum(1 for a, b in zip(markets, markets[1:], strict=False) if a != b)
    assert switches > 100, "books of the two markets alternate rather than one file after the other"
    # each market still gets its own exact on_in_play
    for path, market_id in ((win, "1.181223994"), (place, "1.181223995")):
        assert [c[2] for c in probe.hooks("on_in_play", market_id)] == [first_in_play_pt(path)]
    assert framework.tracker.event_markets("30388764")[0].market_id == "1.181223994"
    assert len(framework.tracker.event_markets("30388764")) == 2


def test_a_hook_that_raises_is_logged_and_the_run_goes_on(tmp_path, caplog):
    class Broken(Probe):
        plugin_name = "broken_probe"

        def process_pre_race(self, market, market_book):
            super().process_pre_race(market, market_book)
            raise RuntimeError("strategy bug")

    from app.assembly import Mode, build
    from app.plugins import discover
    from core.config import load_config
    from tests.conftest import write_config

    registry = discover()
    registry.register(Broken, "test")
    config = load_config(write_config(tmp_path, '[[strategies]]\nname = "broken_probe"\n'))
    framework = build(Mode.BACKTEST, config, paths=[real("1.197931750.bz2")], registry=registry)
    framework.run()
    strategy = framework.strategies[0]
    assert strategy.hook_errors == len(strategy.hooks("process_pre_race")) > 1
    assert strategy.hooks("on_closed"), "the run went on to the end of the market"
    assert "broken_probe: process_pre_race failed on market 1.197931750" in caplog.text


def test_a_strategy_built_outside_the_assembly_refuses_to_place_with_a_clear_message():
    from flumine.order.order import LimitOrder
    from flumine.order.trade import Trade

    strategy = Probe(name="loose")
    order = Trade("1.1", 123, 0.0, strategy).create_order(side="BACK", order_type=LimitOrder(2.0, 2.0))
    with pytest.raises(RuntimeError, match="strategy 'loose' has no order path: build it with app.assembly.build"):
        strategy.place_order(None, order)
    assert strategy.safety.hedging("1.1", strategy) is False
