"""The emulator's probe: times of market updates written to a stream socket and of calls arriving."""

from __future__ import annotations

import time

import requests

from bench.tick_to_trade import latencies
from emulator.probe import Probe
from emulator.server import Emulator
from tests.conftest import ROOT


def test_calls_are_timed_as_they_arrive_and_a_placement_pairs_with_its_update():
    probe = Probe()
    with Emulator([ROOT / "recordings" / "race-1.gz"], probe=probe) as emulator:
        before = time.monotonic_ns()
        answer = requests.post(
            f"http://127.0.0.1:{emulator.rest.port}/api/login", data={"username": "u", "password": "p"}, timeout=5
        )
        assert answer.status_code == 200
    (stamp, path, body), *_ = probe.calls
    assert path == "/api/login" and b"username=u" in body and before <= stamp <= time.monotonic_ns()
    # a placeOrders whose stake names the update published at pt=1000 (every 10 ms), 2.5 ms after it was written
    probe.wrote({"op": "mcm", "pt": 1000, "mc": [{"id": "1.1"}]})
    probe.wrote({"op": "mcm", "pt": 990})  # a heartbeat is not an update
    body = b'{"method": "SportsAPING/v1.0/placeOrders", "params": {"instructions": [{"limitOrder": {"size": 3.0}}]}}'
    probe.calls.append((probe.sent[-1][1] + 2_500_000, "/exchange/betting/json-rpc/v1", body))
    assert len(probe.sent) == 1 and latencies(probe, 10) == [2.5]
