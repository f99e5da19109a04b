"""Latency per stage of the order path: samples kept as a log-scale histogram (1% resolution, bounded memory),
summarised as count, p50, p95, p99 and the exact max."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

# The stages of tick to trade, in order (each from the end of the one before).
PUBLISH = "publish_to_received"  # the exchange's publish time (pt) -> the message read from the stream socket
DECISION = "received_to_decision"  # that message received -> a strategy queues an order on the book it made
SENT = "decision_to_sent"  # queued -> the placeOrders request goes (after the controls, the rate limit)
ACKNOWLEDGED = "sent_to_acknowledged"  # placeOrders sent -> its answer
MATCHED = "acknowledged_to_matched"  # the answer -> the order stream shows the order (partly) matched
STAGES = (PUBLISH, DECISION, SENT, ACKNOWLEDGED, MATCHED)

RESOLUTION = 1.01  # neighbouring buckets differ by 1%
FLOOR = 1e-6  # seconds: anything closer to zero counts as zero


@dataclass(frozen=True)
class StageSummary:
    """One stage's figures in seconds (None when no sample was taken)."""

    stage: str
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    def row(self) -> dict:
        """As a mapping (the audit store's run_latency row, less the run id)."""
        return {"stage": self.stage, "count": self.count, "p50": self.p50, "p95": self.p95, "p99": self.p99,
                "max": self.max}  # fmt: skip


class _Histogram:
    """Counts per log-scale bucket; a value's bucket is sign x round(log(|v|) / log(RESOLUTION))."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.max = -math.inf

    def add(self, value: float) -> None:
        magnitude = abs(value)
        key = 0 if magnitude < FLOOR else int(math.copysign(round(math.log(magnitude / FLOOR, RESOLUTION)) + 1, value))
        self.buckets[key] = self.buckets.get(key, 0) + 1
        self.count += 1
        if value > self.max:
            self.max = value

    def quantile(self, q: float) -> float:
        """The value at quantile q (nearest rank), as its bucket's centre; never above the max."""
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                return min(_centre(key), self.max)
        return self.max


def _centre(key: int) -> float:
    if key == 0:
        return 0.0
    return math.copysign(FLOOR * RESOLUTION ** (abs(key) - 1), key)


class StageLatency:
    """Samples of each stage's latency (seconds) from any thread; listeners see each sample as it is taken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages = {stage: _Histogram() for stage in STAGES}
        self.listeners: list[Callable[[str, float], None]] = []  # (stage, seconds), on the recording thread

    def record(self, stage: str, seconds: float) -> None:
        """Take one sample of a stage."""
        with self._lock:
            self._stages[stage].add(seconds)
        for listener in self.listeners:
            listener(stage, seconds)

    def summary(self) -> list[StageSummary]:
        """Count, p50, p95, p99 and max of every stage, in stage order."""
        out = []
        with self._lock:
            for stage, histogram in self._stages.items():
                if not histogram.count:
                    out.append(StageSummary(stage, 0, None, None, None, None))
                    continue
                q = histogram.quantile
                out.append(StageSummary(stage, histogram.count, q(0.50), q(0.95), q(0.99), histogram.max))
        return out


def format_summary(summary: list[StageSummary]) -> str:
    """The end-of-run table: one line per stage, milliseconds."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.2f}"

    lines = [f"{'latency (ms)':<24} {'count':>8} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}"]
    for s in summary:
        lines.append(f"{s.stage:<24} {s.count:>8} {ms(s.p50):>9} {ms(s.p95):>9} {ms(s.p99):>9} {ms(s.max):>9}")
    return "\n".join(lines)
