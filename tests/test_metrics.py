"""Latency per stage (percentiles from the log-scale histogram against exact ones, the end-of-run table), the
--metrics-port flag, and a port already in use."""

from __future__ import annotations

import math
import random
import socket
import threading

import pytest

from app.assembly import Mode, build
from app.cliparser import parser
from core.config import load_config
from core.errors import UserError
from core.latency import DECISION, PUBLISH, SENT, STAGES, StageLatency, format_summary
from tests.conftest import write_config
from tests.live_helpers import CREDENTIALS


def exact(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_percentiles_are_within_one_percent_of_the_exact_ones_and_the_max_is_exact():
    rng = random.Random(7)
    values = [rng.lognormvariate(-5, 1.5) for _ in range(20_000)]  # milliseconds to seconds, long tail
    latency = StageLatency()
    for v in values:
        latency.record(SENT, v)
    summary = {s.stage: s for s in latency.summary()}[SENT]
    assert summary.count == len(values)
    assert summary.max == max(values)
    for got, q in ((summary.p50, 0.50), (summary.p95, 0.95), (summary.p99, 0.99)):
        assert got == pytest.approx(exact(values, q), rel=0.01)


def test_negative_and_zero_samples_keep_their_order():
    latency = StageLatency()
    for v in [-0.5, -0.2, 0.0, 0.0, 0.1] * 20:  # publish times ahead of the local clock read negative
        latency.record(PUBLISH, v)
    summary = latency.summary()[0]
    assert summary.p50 == 0.0 and summary.max == 0.1
    assert summary.p95 == pytest.approx(0.1, rel=0.01)
    latency.record(PUBLISH, -3.0)
    assert latency.summary()[0].count == 101


def test_a_stage_without_samples_reads_none_and_every_listener_sees_each_sample():
    latency = StageLatency()
    seen: list[tuple[str, float]] = []
    latency.listeners.append(lambda stage, seconds: seen.append((stage, seconds)))
    latency.record(DECISION, 0.002)
    summary = latency.summary()
    assert [s.stage for s in summary] == list(STAGES)
    assert [s.count for s in summary] == [0, 1, 0, 0, 0]
    assert summary[0].p50 is None and summary[0].max is None
    assert seen == [(DECISION, 0.002)]
    table = format_summary(summary).splitlines()
    assert table[0].split() == ["latency", "(ms)", "count", "p50", "p95", "p99", "max"]
    assert table[2].split() == [DECISION, "1", "2.00", "2.00", "2.00", "2.00"]
    assert table[1].split() == [PUBLISH, "0", "-", "-", "-", "-"]


def test_samples_from_many_threads_are_all_counted():
    latency = StageLatency()

    def work() -> None:
        for _ in range(5_000):
            latency.record(SENT, 0.001)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert latency.summary()[2].count == 20_000


@pytest.mark.parametrize("command", ["paper", "live", "record"])
def test_metrics_port_is_offered_on_paper_live_and_record_and_off_by_default(command):
    base = [command, "--config", "c.toml"]
    assert parser().parse_args(base).metrics_port is None
    assert parser().parse_args([*base, "--metrics-port", "9108"]).metrics_port == 9108


def test_backtest_takes_no_metrics_port():
    with pytest.raises(SystemExit):
        parser().parse_args(["backtest", "--metrics-port", "9108"])


def test_a_metrics_port_in_use_is_one_message_and_the_bot_can_start_again(tmp_path):
    config = load_config(
        write_config(tmp_path, '[[strategies]]\nname = "weight_of_money"\n', f'data_dir = "{tmp_path}"')
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}"):
            build(Mode.PAPER, config, environ=CREDENTIALS, exchange="http://127.0.0.1:9", metrics_port=port)
    framework = build(Mode.PAPER, config, environ=CREDENTIALS, exchange="http://127.0.0.1:9", metrics_port=port)
    try:  # the lock was let go, the port is served now it is free, and the failed start left no run behind
        assert framework.metrics.port == port and framework.audit.run_id == 1
    finally:
        framework.metrics.close()
        framework.audit.close("stopped")
        framework.lock.release()
