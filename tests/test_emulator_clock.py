"""The emulated exchange's clock: its now is market time at the replay's speed; its faults count market seconds,
except a dropped stream's refusal; it is done once the replay has ended and its clients have gone."""

from __future__ import annotations

import threading
import time

import pytest

from emulator import api
from emulator.exchange import DONE_IDLE_SECONDS, Exchange
from emulator.faults import Fault
from emulator.replay import timeline
from tests.emulator_scenarios import MARKET, Listening, definition, instruction, write
from tests.live_helpers import wait_for


class Closing(Listening):
    """A stand-in stream connection that notes when the exchange drops it."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = threading.Event()
        self.closed_at = 0.0

    def close(self) -> None:
        """Dropped by the exchange."""
        self.closed_at = time.monotonic()
        self.closed.set()


def _minute(tmp_path) -> list:
    """A market whose messages span a minute of market time (one a second)."""
    messages = [(0, {"marketDefinition": definition(), "rc": [{"id": 11, "atb": [[3.0, 10]], "atl": [[3.1, 10]]}]})]
    messages += [(1000 * s, {"rc": [{"id": 12, "ltp": 5.0 + s / 100}]}) for s in range(1, 61)]
    return timeline([write(tmp_path / "minute.json", messages)])


@pytest.fixture
def at_10x(tmp_path):
    """An exchange replaying a minute of market time at 10x, its fault clock running."""
    exchange = Exchange(_minute(tmp_path), speed=10)
    exchange.start()
    yield exchange
    exchange.stop()


def test_the_exchanges_now_and_an_orders_dates_are_market_time(at_10x):
    at_10x.start_replay()
    wait_for(lambda: at_10x.published >= 11, 10, "ten market seconds")  # one wall second
    now = at_10x.now_ms()
    assert now - at_10x.clock.start_ms >= 10_000  # not one wall second
    answer = api.call(at_10x, "placeOrders", {"marketId": MARKET, "instructions": [instruction(11, "BACK", 3.0, 2.0)]})
    placed = at_10x.engine.orders[answer["instructionReports"][0]["betId"]].placed_ms
    assert now <= placed <= at_10x.now_ms()


def test_a_delay_fault_is_market_seconds(at_10x):
    at_10x.add_faults([Fault(kind="delay", operation="getAccountFunds", seconds=5)])
    started = time.monotonic()
    api.call(at_10x, "getAccountFunds", {})
    assert 0.4 <= time.monotonic() - started < 3  # 5 market seconds at 10x


def test_a_scheduled_fault_comes_at_its_market_second_and_a_refusal_lasts_wall_seconds(at_10x):
    stream = Closing()
    at_10x.subscribe(stream)
    at_10x.add_faults([Fault(kind="drop_stream", at=20, seconds=1.5)])  # 20 market seconds: 2 wall seconds
    at_10x.start_replay()
    started = time.monotonic()
    assert stream.closed.wait(10), "the stream was not dropped"
    assert 1.5 <= stream.closed_at - started < 5
    assert at_10x.refusing()
    wait_for(lambda: not at_10x.refusing(), 5, "reconnects to be allowed again")
    assert time.monotonic() - stream.closed_at >= 1.4  # the client's reconnect runs on wall time


def test_done_once_the_replay_has_ended_and_the_last_client_logged_out(tmp_path):
    messages = timeline([write(tmp_path / "short.json", [(0, {"marketDefinition": definition()}), (500, {})])])
    exchange = Exchange(messages, speed=50)
    exchange.start()
    try:
        token = exchange.login("me", "secret", "key")
        exchange.subscribe(Listening())
        exchange.start_replay()
        assert exchange.finished.wait(5)
        assert not exchange.done.wait(DONE_IDLE_SECONDS + 0.5)  # a bot still logged in and listening
        exchange.logout(token)
        assert exchange.done.wait(DONE_IDLE_SECONDS + 2)
    finally:
        exchange.stop()
