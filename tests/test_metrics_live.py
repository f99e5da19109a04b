"""--metrics-port against the emulator over real sockets: the Prometheus endpoint scraped with urllib during live,
paper and record runs, its counts held against the orders placed; latency per stage stored with the run."""

from __future__ import annotations

import gzip
import threading
import urllib.request
from collections import Counter

import prometheus_client
import pytest
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select

from app.assembly import Mode, build_recorder
from app.report import build_report
from core import auditschema as schema
from core.config import load_config
from core.latency import STAGES
from emulator.faults import Fault
from emulator.server import Emulator
from strategies.base import ModalStrategy
from tests.conftest import real
from tests.live_helpers import CREDENTIALS, LiveRun, calls, wait_for

pytestmark = pytest.mark.slow  # live trading against the emulator: each test waits on a replay

GREYHOUNDS = ("1.197931750.bz2", "1.197931751.bz2")  # WIN and PLACE of one race, 323 s, settled
RISK = "[risk]\nmax_stake = 5.0\n"
LATENCY = "paddock_stage_latency_seconds_count"


class BackAndOversize(ModalStrategy):
    """Once per market: back the favourite at the best back price (crossing, so it matches), and ask for a
    stake above max_stake (refused)."""

    plugin_name = "back_and_oversize"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.done: set[str] = set()

    def process_pre_race(self, market, market_book) -> None:
        if market.market_id in self.done or market_book.status != "OPEN":
            return
        runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
        if not runners:
            return
        self.done.add(market.market_id)
        runner = min(runners, key=lambda r: r.ex.available_to_back[0]["price"])
        price = runner.ex.available_to_back[0]["price"]
        for stake in (2.0, 20.0):
            trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
            order = trade.create_order(side="BACK", order_type=LimitOrder(price, stake, persistence_type="LAPSE"))
            self.place_order(market, order)


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    """Every sample of http://127.0.0.1:port/metrics, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float | None:
    """One sample's value (None if absent)."""
    return samples.get((name, frozenset(labels.items())))


def _settled(run: LiveRun) -> bool:
    markets = list(run.framework.flumine.markets)
    return (
        run.emulator.exchange.finished.is_set()
        and len(markets) == 2
        and all(m.closed for m in markets)
        and all(o.cleared_order is not None for o in run.orders() if o.size_matched > 0)
    )


@pytest.fixture
def greyhounds():
    """The emulator replaying the greyhound WIN/PLACE pair at 80x (the 323 s race in 4 s)."""
    with Emulator([real(name) for name in GREYHOUNDS], speed=80) as emulator:
        yield emulator


def test_live_metrics_count_the_orders_placed_refused_and_matched_and_the_run_stores_its_latency(tmp_path, greyhounds):
    greyhound_filter = 'event_type_ids = ["4339"]'
    run = LiveRun(
        tmp_path, Mode.LIVE, BackAndOversize, greyhounds, extra=RISK, market_filter=greyhound_filter, metrics_port=0
    )
    metrics = run.framework.metrics
    assert metrics.registry is not prometheus_client.REGISTRY  # its own: tests build several frameworks at once
    assert metrics._server.server_address[0] == "127.0.0.1"
    port = metrics.port
    with run:
        wait_for(lambda: _settled(run), 60, "both markets to close and settle")
        gross = build_report(run.framework.flumine.markets, 0.05).totals["gross_pnl"]
        wait_for(lambda: value(scrape(port), "paddock_pnl", kind="settled") == pytest.approx(gross), 10, "P&L")
        samples = scrape(port)
        name = run.strategy.name
        sent = [i for c in calls(greyhounds, "placeOrders") for i in c["instructions"]]
        assert len(sent) == 2
        assert value(samples, "paddock_orders_placed_total", strategy=name) == 2
        by_status = Counter((o.trade.strategy.name, o.status.name) for o in run.orders())
        matched = sum(1 for o in run.orders() if o.size_matched > 0)  # crossing: at least one (the book moves)
        assert matched >= 1 and sum(by_status.values()) == 2
        for (strategy, status), count in by_status.items():
            assert value(samples, "paddock_orders", strategy=strategy, status=status) == count
        refusals = run.framework.safety.dispatcher.refusals
        assert len(refusals) == 2 and all("max_stake" in r.reason for r in refusals)
        kind = "Order has violated: RISK_LIMITS Error: stake # is above max_stake #"  # figures as #: few labels
        assert value(samples, "paddock_refusals_total", reason=kind) == 2
        assert value(samples, LATENCY, stage="received_to_decision") == 4  # every order asked for, refused too
        assert value(samples, LATENCY, stage="decision_to_sent") == 2
        assert value(samples, LATENCY, stage="sent_to_acknowledged") == 2
        assert value(samples, LATENCY, stage="acknowledged_to_matched") == matched
        assert value(samples, LATENCY, stage="publish_to_received") > 10
        assert value(samples, "paddock_updates_total", market_type="WIN") > 10
        assert value(samples, "paddock_updates_total", market_type="PLACE") > 10
        assert value(samples, "paddock_kill_switch_state", state="ACTIVE") == 1
        assert value(samples, "paddock_kill_switch_state", state="HALTED") == 0
        assert value(samples, "paddock_open_exposure") == 0
        assert value(samples, "paddock_stream_reconnects_total") == 0
        assert value(samples, "paddock_run_info", mode="live") == 1
    summary = {s.stage: s for s in run.framework.latency.summary()}
    assert [summary[stage].count for stage in STAGES[1:]] == [4, 2, 2, matched]
    for stage in STAGES[1:]:
        assert 0 <= summary[stage].p50 <= summary[stage].p95 <= summary[stage].p99 <= summary[stage].max < 30
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'paddock.db'}")
    with engine.connect() as connection:
        stored = connection.execute(select(schema.run_latency)).mappings().all()
    engine.dispose()
    assert {row["stage"]: row["count"] for row in stored} == {s: summary[s].count for s in STAGES}
    assert {row["run_id"] for row in stored} == {run.framework.audit.run_id}
    with pytest.raises(OSError):  # the run has ended: the endpoint is gone
        scrape(port)


def test_paper_metrics_time_the_simulated_placements(tmp_path, greyhounds):
    run = LiveRun(
        tmp_path,
        Mode.PAPER,
        BackAndOversize,
        greyhounds,
        extra=RISK,
        market_filter='event_type_ids = ["4339"]',
        metrics_port=0,
    )
    port = run.framework.metrics.port
    with run:

        def timed() -> bool:  # both placements answered, and a match stage for every order matched so far
            matched = sum(1 for o in run.orders() if o.size_matched > 0)
            samples = scrape(port)
            answered = value(samples, LATENCY, stage="sent_to_acknowledged")
            return (
                matched >= 1 and answered == 2 and value(samples, LATENCY, stage="acknowledged_to_matched") == matched
            )

        wait_for(timed, 30, "two paper placements answered and matches timed")
        samples = scrape(port)
        assert not calls(greyhounds, "placeOrders")  # paper: nothing reaches the exchange
        assert value(samples, "paddock_orders_placed_total", strategy=run.strategy.name) == 2
        assert value(samples, LATENCY, stage="decision_to_sent") == 2
        assert value(samples, LATENCY, stage="received_to_decision") == 4
        assert value(samples, "paddock_run_info", mode="paper") == 1


def test_a_dropped_market_stream_counts_one_reconnect(tmp_path):
    with Emulator([real(name) for name in GREYHOUNDS], speed=4) as emulator:
        run = LiveRun(tmp_path, Mode.LIVE, BackAndOversize, emulator, market_filter='event_type_ids = ["4339"]',
                      metrics_port=0)  # fmt: skip
        port = run.framework.metrics.port
        with run:
            wait_for(lambda: emulator.exchange.published > 5, 20, "market data")
            assert value(scrape(port), "paddock_stream_reconnects_total") == 0
            emulator.exchange.add_faults([Fault(kind="drop_stream", seconds=0.5)])
            wait_for(lambda: value(scrape(port), "paddock_stream_reconnects_total") == 1, 20, "a reconnect")
            assert run.framework.safety.monitor.reconnects == 1


def test_record_metrics_count_every_update_written(tmp_path):
    config_path = tmp_path / "record.toml"
    config_path.write_text('[record.market_filter]\nevent_type_ids = ["4339"]\n')
    with Emulator([real(name) for name in GREYHOUNDS], speed=80) as emulator:
        run = build_recorder(
            load_config(config_path, require_strategies=False),
            out_dir=tmp_path / "out",
            environ=CREDENTIALS,
            exchange=emulator.url,
            metrics_port=0,
        )
        thread = threading.Thread(target=run.run, daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(run.recorder.written) == 2, 60, "both markets to close and their files")
            samples = scrape(run.metrics.port)
        finally:
            run.stop()
            thread.join(10)
    lines = {}
    for path in run.recorder.written:
        with gzip.open(path, "rt") as f:
            lines[path.name] = sum(1 for line in f if line.strip())
    assert value(samples, "paddock_updates_total", market_type="WIN") == lines["1.197931750.gz"]
    assert value(samples, "paddock_updates_total", market_type="PLACE") == lines["1.197931751.gz"]
    assert value(samples, "paddock_run_info", mode="record") == 1
    assert value(samples, "paddock_stream_reconnects_total") == 0
    assert {name for name, _ in samples if name.startswith("paddock_")} <= {  # nothing about orders: none are made
        "paddock_updates_total", "paddock_updates_created", "paddock_stream_reconnects_total",
        "paddock_stream_reconnects_created", "paddock_run_info",
    }  # fmt: skip
