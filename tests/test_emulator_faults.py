"""Stream faults end to end: a dropped and refused stream trips the kill switch, the bot reconnects, the switch holds."""

from __future__ import annotations

import time

import pytest

from app.assembly import Mode
from emulator.faults import Fault, load_faults
from emulator.server import Emulator
from tests.conftest import real
from tests.live_helpers import LiveRun, calls, wait_for
from tests.test_emulator_live import GREYHOUNDS, Repeater


@pytest.mark.slow
def test_stream_dropped_and_refused_for_5s_trips_the_switch_and_the_bot_resumes_data(tmp_path):
    with Emulator([real(name) for name in GREYHOUNDS], speed=4) as emulator:
        extra = "[kill_switch]\nstream_timeout = 3\n"  # the default is 10 s; the drop outlasts it either way
        run = LiveRun(tmp_path, Mode.LIVE, Repeater, emulator, extra=extra, market_filter='event_type_ids = ["4339"]')
        with run:
            switch = run.framework.safety.kill_switch
            wait_for(lambda: len(calls(emulator, "placeOrders")) >= 2, 20, "orders before the drop")
            dropped_at = time.time()
            emulator.exchange.add_faults([Fault(kind="drop_stream", seconds=5)])
            wait_for(lambda: switch.state == "HALTED", 8, "the kill switch to trip on silence")
            tripped = switch.history[-1]
            assert (
                tripped.source == "stream" and 2 <= tripped.at - dropped_at < 5
            )  # silence counts from the last message
            published = emulator.exchange.published
            wait_for(
                lambda: emulator.exchange.subscribers and emulator.exchange.published > published + 10, 40, "data again"
            )
            resumed_at = time.time()
            assert resumed_at - dropped_at >= 5  # the emulator refused reconnects for 5 s
            seen = run.framework.safety.monitor.last_seen
            wait_for(lambda: max(seen.values()) > resumed_at, 10, "the bot to receive data after reconnecting")
            flowing = emulator.exchange.published
            wait_for(lambda: emulator.exchange.published > flowing + 10, 10, "ten more messages to the bot")
            assert switch.state == "HALTED"  # data is back, the switch stays tripped
            assert not calls(emulator, "placeOrders", after=tripped.at)
            assert any("kill switch" in r.reason for r in run.framework.safety.dispatcher.refusals)
            switch.reset("checked the connection", source="manual")
            assert switch.state == "ACTIVE" and switch.history[-1].action == "reset"
            reset_at = switch.history[-1].at
            wait_for(lambda: calls(emulator, "placeOrders", after=reset_at), 20, "orders after the reset")
            assert switch.state == "ACTIVE"  # the reconnected stream is the one watched, not the dropped one


def test_fault_files_are_checked_with_clear_messages(tmp_path):
    good = tmp_path / "faults.toml"
    good.write_text(
        '[[fault]]\nkind = "drop_stream"\nat = 5\nseconds = 12\n[[fault]]\nkind = "error"\ncode = "TOO_MANY_REQUESTS"\n'
    )
    faults = load_faults(good)
    assert [f.kind for f in faults] == ["drop_stream", "error"] and faults[0].seconds == 12
    bad = tmp_path / "bad.toml"
    bad.write_text('[[fault]]\nkind = "explode"\n')
    try:
        load_faults(bad)
    except Exception as exc:  # noqa: BLE001 - checking the message
        assert str(bad) in str(exc) and "fault[0].kind" in str(exc)
    else:
        raise AssertionError("an unknown fault kind was accepted")
