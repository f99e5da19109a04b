"""The data-quality guard live against the emulator over real sockets: late publish times, 503 status messages and
conflated messages pause new orders (no placeOrders reaches the exchange meanwhile) and trading resumes by itself."""

from __future__ import annotations

import time

import pytest

from app.assembly import Mode
from emulator.faults import Fault
from emulator.server import Emulator
from tests.conftest import real
from tests.live_helpers import LiveRun, calls, wait_for
from tests.test_emulator_live import GREYHOUNDS, Repeater

GUARD = "[data_quality]\nmax_publish_lag = 1.0\nresume_after = 1.0\nnotice_count = 3\n"
FILTER = 'event_type_ids = ["4339"]'


def _paused_then_resumed(tmp_path, fault: Fault, cause: str) -> None:
    """Run Repeater live at speed 1; inject the fault; the guard pauses, no order arrives, then orders resume."""
    with Emulator([real(name) for name in GREYHOUNDS], speed=1, max_gap=0.2) as emulator:
        run = LiveRun(tmp_path, Mode.LIVE, Repeater, emulator, extra=GUARD, market_filter=FILTER)
        with run:
            guard = run.framework.safety.data_quality
            seen: list[tuple[float, object]] = []
            guard.change_listeners.append(lambda change: seen.append((time.time(), change)))
            wait_for(lambda: len(calls(emulator, "placeOrders")) >= 2, 20, "orders before the fault")
            assert guard.pause_count == 0 and not seen, [c for _, c in seen]
            emulator.exchange.add_faults([fault])
            wait_for(lambda: guard.pause_count >= 1, 10, f"a pause for {cause}")
            paused_wall, pause = seen[0]
            assert pause.action == "pause" and cause in pause.causes
            assert guard.paused_markets()
            wait_for(lambda: guard.resume_count >= guard.pause_count, 15, "the markets to resume")
            resumed_wall = seen[-1][0]
            wait_for(lambda: calls(emulator, "placeOrders", after=resumed_wall), 15, "orders after the resume")
            paused_ids = {c.market_id for _, c in seen if c.action == "pause"}
            # an order already on its way may land just after the pause; none is sent while it lasts
            during = [
                p
                for p in calls(emulator, "placeOrders", after=paused_wall + 0.5)
                if p["marketId"] in paused_ids and p not in calls(emulator, "placeOrders", after=resumed_wall)
            ]
            assert not during
            refused = [r for r in run.framework.safety.dispatcher.refusals if "data_quality" in r.reason]
            assert refused and all(not r.hedge for r in refused)
            assert run.framework.safety.kill_switch.state == "ACTIVE"  # a pause is not a trip


@pytest.mark.slow
def test_publish_times_lagging_receipt_pause_new_orders_until_they_are_on_time_again(tmp_path):
    _paused_then_resumed(tmp_path, Fault(kind="late", seconds=5, count=4), "publish_lag")


@pytest.mark.slow
def test_repeated_503_status_messages_pause_the_streams_markets(tmp_path):
    _paused_then_resumed(tmp_path, Fault(kind="status_503", count=3), "stream_notices")


@pytest.mark.slow
def test_repeated_conflated_messages_pause_the_streams_markets(tmp_path):
    _paused_then_resumed(tmp_path, Fault(kind="conflate", count=3), "stream_notices")
