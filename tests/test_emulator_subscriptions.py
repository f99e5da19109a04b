"""Market subscriptions honoured: only the requested fields at the requested ladder levels, ladders a recording
lacks derived (and the approximation announced), replies carrying the request's id, and every message the stream
sends validating against betfair-parser's strict models. Raw TLS sockets, as a client other than
betfairlightweight talks to it."""

from __future__ import annotations

import json
import socket
import ssl

import pytest
import requests

from emulator.server import Emulator
from tests.betfair_models import validate_stream
from tests.conftest import ROOT, real
from tests.live_helpers import CREDENTIALS

ALL = ["EX_ALL_OFFERS", "EX_TRADED", "EX_TRADED_VOL", "EX_LTP", "EX_MARKET_DEF", "SP_TRADED", "SP_PROJECTED"]
PRICE_KEYS = {"atb", "atl", "batb", "batl", "bdatb", "bdatl", "trd", "spb", "spl", "ltp", "tv", "spn", "spf"}


class Client:
    """A line-by-line stream client on a raw socket (TLS unless context is False), logged in through the REST API."""

    def __init__(
        self, emulator: Emulator, context: ssl.SSLContext | bool | None = None, port: int | None = None
    ) -> None:
        base = emulator.url.split("?")[0]
        key = CREDENTIALS["BETFAIR_APP_KEY"]
        login = requests.post(
            f"{base}/api/login", data={"username": "u", "password": "p"}, headers={"X-Application": key}
        )
        self.token, self.key = login.json()["token"], key
        raw = socket.create_connection(("127.0.0.1", port or emulator.stream.port), timeout=10)
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        self.sock = context.wrap_socket(raw, server_hostname="localhost") if context is not False else raw
        self.file = self.sock.makefile("rb")
        self.messages: list[dict] = []

    def read(self) -> dict:
        """The next message, validated against Betfair's stream model."""
        line = self.file.readline()
        assert line.endswith(b"\r\n"), line
        validate_stream(line)
        message = json.loads(line)
        self.messages.append(message)
        return message

    def send(self, request: dict) -> dict:
        """Send a request; its reply (the next status)."""
        self.sock.sendall(json.dumps(request).encode() + b"\r\n")
        while (message := self.read())["op"] != "status":
            pass
        return message

    def authenticate(self) -> None:
        """Read the greeting and authenticate."""
        assert self.read()["op"] == "connection"
        assert self.send({"op": "authentication", "id": 1, "appKey": self.key, "session": self.token})["id"] == 1

    def until(self, count: int) -> list[dict]:
        """Read until `count` market messages have come."""
        got = []
        while len(got) < count:
            message = self.read()
            if message["op"] == "mcm" and message.get("ct") != "HEARTBEAT":
                got.append(message)
        return got

    def close(self) -> None:
        """Hang up."""
        self.sock.close()


def keys_sent(messages: list[dict]) -> set[str]:
    """Every runner field the messages carry."""
    return {k for m in messages for mc in m.get("mc", ()) for rc in mc.get("rc", ()) for k in rc} & PRICE_KEYS


@pytest.fixture
def best_display():
    """An emulator replaying a real recording holding best-display ladders (and, at times, full ones)."""
    with Emulator([real("1.197931751.bz2")], speed=20, max_gap=1) as emulator:
        yield emulator


def test_full_ladders_only_when_asked_with_the_approximation_announced(best_display):
    client = Client(best_display)
    client.authenticate()
    request = {"op": "marketSubscription", "id": 5, "marketFilter": {}, "marketDataFilter": {"fields": ALL}}
    status = client.send(request)
    assert status["id"] == 5 and status["statusCode"] == "SUCCESS"
    assert "approximated: EX_ALL_OFFERS" in status["errorMessage"]
    messages = client.until(120)
    assert {m["id"] for m in messages} == {5}
    sent = keys_sent(messages)
    assert {"atb", "atl"} <= sent and not sent & {"batb", "batl", "bdatb", "bdatl"}
    client.close()


def test_best_offers_at_the_requested_levels_are_derived_from_full_ladders():
    with Emulator([ROOT / "recordings" / "race-1.gz"], speed=20, max_gap=1) as emulator:
        client = Client(emulator)
        client.authenticate()
        data_filter = {"fields": ["EX_BEST_OFFERS", "EX_LTP"], "ladderLevels": 2}
        status = client.send({"op": "marketSubscription", "id": 2, "marketFilter": {}, "marketDataFilter": data_filter})
        assert "errorMessage" not in status  # nothing approximated: best offers are the full ladders' best
        messages = client.until(60)
        assert keys_sent(messages) <= {"batb", "batl", "ltp"} and "batb" in keys_sent(messages)
        levels = {lvl for m in messages for mc in m["mc"] for rc in mc.get("rc", ()) for lvl, *_ in rc.get("batb", ())}
        assert levels <= {0, 1}
        assert not any("marketDefinition" in mc for m in messages for mc in m["mc"])
        client.close()


def test_without_fields_the_recording_goes_out_as_recorded_and_heartbeats_carry_the_request_id(best_display):
    client = Client(best_display)
    client.authenticate()
    client.send({"op": "marketSubscription", "id": 9, "marketFilter": {}, "heartbeatMs": 500})
    assert {"bdatb", "atb"} <= keys_sent(client.until(150))
    assert client.send({"op": "heartbeat", "id": 44}) == {
        "op": "status",
        "id": 44,
        "statusCode": "SUCCESS",
        "connectionClosed": False,
    }
    no_id = client.send({"op": "heartbeat"})
    assert "id" not in no_id and no_id["statusCode"] == "SUCCESS"
    client.close()
