"""Alerts from a running bot against the emulator: a stream that keeps dropping is a reconnect storm and a trip,
both posted to the webhook."""

from __future__ import annotations

import pytest

from app.assembly import Mode
from emulator.faults import Fault
from emulator.server import Emulator
from tests.conftest import Probe, real
from tests.httpsink import HttpSink
from tests.live_helpers import CREDENTIALS, LiveRun, wait_for

pytestmark = pytest.mark.slow  # the bot against the emulator; each reconnect waits flumine's 2 s retry


def test_reconnects_within_the_window_are_one_storm_alert_and_the_silence_a_trip_alert(tmp_path):
    extra = "[kill_switch]\nstream_timeout = 1\n[alerts]\nreconnect_storm = 2\nreconnect_window = 60\n"
    with HttpSink() as hook, Emulator([real("1.197931750.bz2")], speed=4) as emulator:
        environ = {**CREDENTIALS, "PADDOCK_WEBHOOK_URL": hook.url}
        run = LiveRun(tmp_path, Mode.PAPER, Probe, emulator, extra=extra, environ=environ)
        monitor = run.framework.safety.monitor
        with run:
            wait_for(lambda: run.strategy.calls, 20, "market data")
            assert list(monitor.connections.values()) == [1]  # connected once: no reconnect yet
            emulator.exchange.add_faults([Fault(kind="drop_stream")])
            wait_for(lambda: sum(monitor.connections.values()) == 2, 20, "the first reconnect")
            assert monitor.storms == 0  # one reconnect is not a storm
            emulator.exchange.add_faults([Fault(kind="drop_stream")])
            texts = lambda: [r.json()["text"] for r in hook.received]  # noqa: E731
            hook.wait(lambda _: any("reconnect storm" in t for t in texts()), 20, "the storm alert")
            hook.wait(lambda _: any("kill switch HALTED" in t for t in texts()), 5, "the trip alert")
        run.framework.alerts.close(5)
    assert monitor.storms == 1
    storm = [t for t in texts() if t.startswith("reconnect storm")]
    assert storm == ["reconnect storm: the market stream reconnected 2 times within 60 s (limit 2)"]
    trip = next(t for t in texts() if t.startswith("kill switch HALTED"))
    assert "stream: market stream silent for" in trip
    for text in texts():
        assert CREDENTIALS["BETFAIR_PASSWORD"] not in text and hook.url not in text
