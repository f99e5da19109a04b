"""The data-quality guard in backtests of a generated match whose recording is doctored: a crossed book, an empty
book, a market whose updates stop while the others go on; new orders pause, cancels and hedges pass, and trading
resumes by itself. Also: the config's keys, determinism, and the store's rows."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest
from flumine.order.order import OrderStatus
from flumine.order.ordertype import LimitOrder
from flumine.order.trade import Trade

from app.scenarios.generate import generate
from core.config import load_config
from core.errors import ConfigError
from core.positions import is_hedge
from strategies.base import ModalStrategy
from tests.conftest import run_strategy, write_config

MATCH_ODDS, OVER_UNDER, CORRECT_SCORE = "1.250000011", "1.250000012", "1.250000013"
CROSSED_AT, EMPTY_AT, RESTORED_AFTER = 300.0, 600.0, 5.0  # seconds after the recording starts (pre-match)
STALL_FROM, STALL_TO = 150.0, 800.0  # CORRECT_SCORE sends nothing in between; the other markets go on
GUARD = "[data_quality]\nresume_after = 30\nstall_after = 60\nstall_min_updates = 50\n"


def _ladders(messages: list[dict], market_id: str, until_ms: int) -> dict[int, dict[str, dict[float, float]]]:
    """Each runner's atb / atl ladder (price -> size) of a market as it stands at a publish time."""
    runners: dict[int, dict[str, dict[float, float]]] = {}
    for message in messages:
        if message["pt"] > until_ms:
            break
        for change in message["mc"]:
            if change["id"] != market_id:
                continue
            if change.get("img"):
                runners.clear()
            for rc in change.get("rc", []):
                runner = runners.setdefault(rc["id"], {"atb": {}, "atl": {}})
                for side in ("atb", "atl"):
                    for price, size in rc.get(side, []):
                        if size:
                            runner[side][price] = size
                        else:
                            runner[side].pop(price, None)
    return runners


def _doctor(source: Path, target: Path) -> Path:
    """The match with a crossed MATCH_ODDS book, an empty OVER_UNDER book (each put right 5 s later), and
    CORRECT_SCORE silent from STALL_FROM to STALL_TO (its changes meanwhile all sent then)."""
    with gzip.open(source, "rt") as f:
        messages = [json.loads(line) for line in f if line.strip()]
    start = messages[0]["pt"]
    crossed_ms, empty_ms = start + int(CROSSED_AT * 1000), start + int(EMPTY_AT * 1000)
    inserted = []
    runners = _ladders(messages, MATCH_ODDS, crossed_ms)
    selection, ladder = next((s, r) for s, r in sorted(runners.items()) if r["atl"] and r["atb"])
    high = max(ladder["atl"]) + 1.0  # a back offer above every lay offer: the book is crossed
    inserted.append(
        {"op": "mcm", "pt": crossed_ms, "mc": [{"id": MATCH_ODDS, "rc": [{"id": selection, "atb": [[high, 50.0]]}]}]}
    )
    inserted.append({"op": "mcm", "pt": crossed_ms + int(RESTORED_AFTER * 1000),
                     "mc": [{"id": MATCH_ODDS, "rc": [{"id": selection, "atb": [[high, 0]]}]}]})  # fmt: skip
    runners = _ladders(messages, OVER_UNDER, empty_ms)
    emptied = [
        {"id": s, "atb": [[p, 0] for p in r["atb"]], "atl": [[p, 0] for p in r["atl"]]} for s, r in runners.items()
    ]
    restored = [{"id": s, "atb": [[p, v] for p, v in r["atb"].items()], "atl": [[p, v] for p, v in r["atl"].items()]}
                for s, r in runners.items()]  # fmt: skip
    inserted.append({"op": "mcm", "pt": empty_ms, "mc": [{"id": OVER_UNDER, "rc": emptied}]})
    inserted.append(
        {"op": "mcm", "pt": empty_ms + int(RESTORED_AFTER * 1000), "mc": [{"id": OVER_UNDER, "rc": restored}]}
    )
    out, held = [], []
    for message in messages:
        offset = (message["pt"] - start) / 1000
        if STALL_FROM <= offset < STALL_TO:  # CORRECT_SCORE's changes held back until STALL_TO, in order
            held.extend(c for c in message["mc"] if c["id"] == CORRECT_SCORE)
            message["mc"] = [c for c in message["mc"] if c["id"] != CORRECT_SCORE]
            if not message["mc"]:
                continue
        out.append(message)
    stall_end = start + int(STALL_TO * 1000)
    inserted.extend({"op": "mcm", "pt": stall_end, "mc": [change]} for change in held)
    out = sorted(out + inserted, key=lambda m: m["pt"])  # stable: an inserted message follows one of its time
    for n, message in enumerate(out, 1):
        message["clk"] = str(n)
    with gzip.open(target, "wt") as f:
        f.write("\n".join(json.dumps(m) for m in out) + "\n")
    return target


@pytest.fixture(scope="module")
def doctored(tmp_path_factory) -> Path:
    """The generated football match (seed 1), doctored."""
    folder = tmp_path_factory.mktemp("dq")
    return _doctor(generate("football", folder / "match.gz", seed=1), folder / "doctored.gz")


class Poker(ModalStrategy):
    """Per market: a resting back far from the book, then a matched back, then a FILL_OR_KILL probe on every book
    (a lay at 1.01, killed at once). On its first book after a data-quality refusal in a market (the book put
    right, the market still paused) it cancels the resting order and greens up: a pause must let both through."""

    plugin_name = "dq_poker"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.resting: dict[str, object] = {}
        self.backed: set[str] = set()
        self.refused: list[tuple[str, float, str]] = []
        self.reacted: dict[str, float] = {}

    def process_pre_race(self, market, market_book) -> None:
        if self.reacted.get(market.market_id) == 0.0:
            self.reacted[market.market_id] = self.clock.now()
            self.cancel_order(market, self.resting[market.market_id])
            self.hedge(market)
            return
        runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
        if not runners:
            return
        runner = min(runners, key=lambda r: r.ex.available_to_back[0]["price"])
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        if market.market_id not in self.resting:  # on the outsider: flumine allows one live trade per runner
            outsider = max(runners, key=lambda r: r.ex.available_to_back[0]["price"])
            trade = Trade(market.market_id, outsider.selection_id, outsider.handicap, self)
            order = trade.create_order(side="BACK", order_type=LimitOrder(1000.0, 2.0))
            self.resting[market.market_id] = order
        elif market.market_id not in self.backed:
            order = trade.create_order(side="BACK", order_type=LimitOrder(runner.ex.available_to_back[0]["price"], 2.0))
            self.backed.add(market.market_id)
        else:
            order = trade.create_order(side="LAY", order_type=LimitOrder(1.01, 2.0, time_in_force="FILL_OR_KILL"))
        self.place_order(market, order)

    def on_refused(self, market, order, reason) -> None:
        self.refused.append((market.market_id, self.clock.now(), reason))
        if "data_quality" in reason and market.market_id not in self.reacted:
            self.reacted[market.market_id] = 0.0  # on the next book


def _window(framework, market_id: str) -> tuple[float, float, str]:
    """The market's first pause: (paused at, resumed at, causes)."""
    changes = [c for c in framework.safety.data_quality.changes if c.market_id == market_id]
    pause = next(c for c in changes if c.action == "pause")
    resume = next(c for c in changes if c.action == "resume" and c.at > pause.at)
    return pause.at, resume.at, ",".join(pause.causes)


@pytest.fixture(scope="module")
def traded(doctored, tmp_path_factory):
    """One backtest of Poker over the doctored match."""
    return run_strategy(tmp_path_factory.mktemp("run"), Poker, [doctored], extra=GUARD)


def test_a_crossed_book_pauses_new_orders_cancels_and_hedges_pass_and_it_resumes(traded):
    framework = traded
    strategy = framework.strategies[0]
    paused, resumed, causes = _window(framework, MATCH_ODDS)
    assert causes == "book" and paused - _start(framework) == CROSSED_AT
    pause = next(c for c in framework.safety.data_quality.changes if c.market_id == MATCH_ODDS)
    assert "crossed book" in pause.reason
    assert resumed - paused >= RESTORED_AFTER + 30 - 1e-6  # clean for resume_after once the book was put right
    mine = [(at, reason) for market_id, at, reason in strategy.refused if market_id == MATCH_ODDS]
    assert mine and all("DATA_QUALITY" in r and "crossed book" in r for _, r in mine)
    assert all(paused <= at < resumed for at, _ in mine)
    market = framework.flumine.markets.markets[MATCH_ODDS]
    reacted = strategy.reacted[MATCH_ODDS]
    resting = strategy.resting[MATCH_ODDS]
    assert resting.size_cancelled == 2.0 and resting.status is OrderStatus.EXECUTION_COMPLETE  # the cancel passed
    hedges = [o for o in market.blotter if is_hedge(o)]
    assert hedges and all(o.status is not OrderStatus.VIOLATION for o in hedges)
    assert not any(r.hedge for r in framework.safety.dispatcher.refusals)
    assert paused < reacted < resumed
    assert all(paused <= o.date_time_created.timestamp() < resumed for o in hedges)
    after = [o for o in market.blotter if o.date_time_created.timestamp() > resumed and not is_hedge(o)]
    assert after  # trading resumed by itself


def test_an_empty_book_in_an_open_market_pauses_it(traded):
    paused, resumed, causes = _window(traded, OVER_UNDER)
    pause = next(c for c in traded.safety.data_quality.changes if c.market_id == OVER_UNDER and c.action == "pause")
    assert causes == "book" and "empty book" in pause.reason
    refused = [at for market_id, at, reason in traded.strategies[0].refused if market_id == OVER_UNDER]
    assert refused and all(paused <= at < resumed for at in refused)


def test_a_market_whose_updates_stop_while_its_event_goes_on_pauses_until_it_is_back(traded):
    framework = traded
    changes = framework.safety.data_quality.changes
    stalls = [c for c in changes if "stalled" in c.causes and c.action == "pause"]
    assert [c.market_id for c in stalls] == [CORRECT_SCORE]  # the others kept updating
    paused, resumed, _ = _window(framework, CORRECT_SCORE)
    states = framework.tracker.states
    assert states[CORRECT_SCORE].event_id == states[MATCH_ODDS].event_id
    recording_start = _start(framework)
    assert STALL_FROM + 60 < paused - recording_start < STALL_TO  # stall_after of silence, before it came back
    assert resumed - recording_start >= STALL_TO + 30 - 1e-6
    assert framework.safety.data_quality.pause_count == 3 == framework.safety.data_quality.resume_count
    assert framework.safety.data_quality.paused_markets() == []


def _start(framework) -> float:
    """Publish time of the recording's first message (epoch seconds)."""
    (recording,) = framework.recordings
    with gzip.open(recording.path, "rt") as f:
        return json.loads(f.readline())["pt"] / 1000


def test_pauses_are_in_the_report_and_the_store(traded, tmp_path):
    report = traded.report()
    quality = report.data_quality()
    guard = traded.safety.data_quality
    assert quality["pauses"] == guard.pause_count == 3 and quality["markets"] == 3
    assert quality["refused"] == sum(1 for *_, r in traded.strategies[0].refused if "data_quality" in r) > 0
    assert quality["changes"] == [c.row() for c in guard.changes]
    assert report.quality_lines()[0].startswith("data quality: 3 pause(s) on 3 market(s)")
    written = json.loads([p for p in report.write(tmp_path) if p.name == "summary.json"][0].read_text())
    assert written["data_quality"]["pauses"] == 3
    traded.audit.close("completed")  # flush the writer (the run has ended)
    store = traded.config.resolve(traded.config.app.data_dir) / "paddock.db"
    rows = sqlite3.connect(store).execute("SELECT market_id, action, causes, at FROM data_quality_events ORDER BY id")
    assert [tuple(r) for r in rows] == [(c.market_id, c.action, ",".join(c.causes), c.at) for c in guard.changes]


def test_the_same_recording_pauses_the_same_way_every_time(doctored, traded, tmp_path):
    again = run_strategy(tmp_path, Poker, [doctored], extra=GUARD + "[store]\nenabled = false\n")
    assert [c.row() for c in again.safety.data_quality.changes] == [c.row() for c in traded.safety.data_quality.changes]


def test_with_the_guard_off_nothing_pauses(doctored, tmp_path):
    off = run_strategy(tmp_path, Poker, [doctored], extra="[data_quality]\nenabled = false\n[store]\nenabled = false\n")
    assert off.safety.data_quality.changes == []
    assert not any("data_quality" in r for *_, r in off.strategies[0].refused)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("max_publish_lag = -1", "data_quality.max_publish_lag"),
        ("resume_after = -0.5", "data_quality.resume_after"),
        ("notice_count = 0", "data_quality.notice_count"),
        ("stall_after = 0", "data_quality.stall_after"),
        ("check_book = 'maybe'", "data_quality.check_book"),
        ("max_lag = 2", "data_quality.max_lag"),
    ],
)
def test_bad_data_quality_values_name_the_key(tmp_path, line, key):
    path = write_config(tmp_path, '[[strategies]]\nname = "weight_of_money"\n', f"[data_quality]\n{line}\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path)


def test_the_defaults_are_sane(tmp_path):
    cfg = load_config(write_config(tmp_path, '[[strategies]]\nname = "weight_of_money"\n')).app.data_quality
    assert cfg.enabled and cfg.check_book
    assert (cfg.max_publish_lag, cfg.stall_after, cfg.notice_count, cfg.notice_window, cfg.resume_after) == (
        2.0,
        60.0,
        3,
        60.0,
        10.0,
    )
