"""A hostile client against the emulator while a well-behaved one keeps trading (issue 13, item 7).

Each test runs one probe (raw sockets, bodies no client library would send) against a running emulator while
betfairlightweight's own APIClient and stream client go on logging in, placing and receiving market data, and
asserts the probe's answer, that the good client is unaffected and that the server logged no error."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import ssl
import threading
import time

import pytest
import requests
from betfairlightweight import filters

from emulator.server import Emulator
from tests.conftest import ROOT
from tests.live_helpers import CREDENTIALS, wait_for
from tests.test_emulator_protocol import Reading, client

AUTH_TIMEOUT = 1.5  # the emulator's auth_timeout here: seconds a stream connection may stay unauthenticated
MARKET = "1.260000011"  # race-1's market: open, not in play, for the first 458 market seconds (23 s at 20x)
SELECTION = 20000100
MiB = 1 << 20
_refs = itertools.count(1)


@pytest.fixture
def server_errors(caplog):
    """Records the server logged at ERROR, or with a traceback, while the test ran (from threads started since)."""
    caplog.set_level(logging.INFO)
    earlier = {t.ident for t in threading.enumerate() if t is not threading.current_thread()}
    return lambda: [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if (r.levelno >= logging.ERROR or r.exc_info) and r.thread not in earlier
    ]


@pytest.fixture
def emulator(server_errors):
    """race-1 replayed at 20x (a market message every ~150 ms), checking the tests' credentials."""
    with Emulator(
        [ROOT / "recordings" / "race-1.gz"],
        speed=20,
        username=CREDENTIALS["BETFAIR_USERNAME"],
        password=CREDENTIALS["BETFAIR_PASSWORD"],
        app_key=CREDENTIALS["BETFAIR_APP_KEY"],
        auth_timeout=AUTH_TIMEOUT,
    ) as emulator:
        yield emulator


class GoodClient:
    """A well-behaved client: betfairlightweight's APIClient logged in, its stream receiving market data."""

    def __init__(self, emulator: Emulator) -> None:
        self.trading = client(emulator)
        self.trading.login_interactive()
        self.reading = Reading(self.trading)
        self.sub_id = self.reading.stream.subscribe_to_markets(
            market_filter={}, market_data_filter={"fields": ["EX_BEST_OFFERS", "EX_LTP"]}, heartbeat_ms=500
        )
        wait_for(lambda: self.changes() >= 2, 5, "the good client's first market changes")

    def changes(self) -> int:
        """Market-change messages with data the stream has received."""
        return sum(1 for m in list(self.reading.listener.messages) if m.get("id") == self.sub_id and m.get("mc"))

    def still_trading(self) -> None:
        """keepAlive, getAccountFunds and a placeOrders all answer as before, and market data keeps coming."""
        seen = self.changes()
        assert self.trading.keep_alive().status == "SUCCESS"
        assert self.trading.account.get_account_funds().available_to_bet_balance > 0
        instruction = filters.place_instruction(
            "LIMIT", SELECTION, "BACK", limit_order=filters.limit_order(1000, "LAPSE", 2.0)
        )
        report = self.trading.betting.place_orders(MARKET, [instruction], customer_ref=f"good-{next(_refs)}")
        assert report.status == "SUCCESS", report.error_code
        assert report.place_instruction_reports[0].bet_id
        wait_for(lambda: self.changes() > seen + 1, 5, "more market data on the good client's stream")
        assert self.reading.error is None and self.reading.thread.is_alive()

    def stop(self) -> None:
        """Stop the stream and log out."""
        self.reading.stop()
        self.trading.logout()


@pytest.fixture
def good(emulator):
    """The well-behaved client, trading before the probe starts."""
    good = GoodClient(emulator)
    yield good
    good.stop()


def _fault(body: dict) -> tuple[str, str]:
    """The error code and details of a Betfair REST fault (asserting its shape)."""
    assert body["faultcode"] == "Client" and body["detail"]["exceptionname"] == "APINGException", body
    exception = body["detail"]["APINGException"]
    return exception["errorCode"], exception["errorDetails"]


def rest(emulator: Emulator) -> str:
    """The emulator's REST base URL."""
    return emulator.url.split("?")[0]


def raw_http(emulator: Emulator, request: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send bytes to the REST port; the answer's status, headers and body (read to its length or the close)."""
    with socket.create_connection(("127.0.0.1", emulator.rest.port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):  # it answered and hung up before the rest was sent
            pass
        return read_http(sock)


def read_http(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP answer read from a socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before an answer's headers: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", -1))
    while len(body) < length or length < 0:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def rpc(emulator: Emulator, good: GoodClient, body: bytes | str, path: str = "betting") -> requests.Response:
    """POST a body to a JSON-RPC endpoint with the good client's session."""
    headers = {"X-Application": CREDENTIALS["BETFAIR_APP_KEY"], "X-Authentication": good.trading.session_token}
    return requests.post(f"{rest(emulator)}/exchange/{path}/json-rpc/v1", data=body, headers=headers, timeout=5)


def tls(emulator: Emulator) -> ssl.SSLSocket:
    """A TLS connection to the stream port, its greeting read."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", emulator.stream.port), timeout=5))
    assert json.loads(read_line(sock))["op"] == "connection"
    return sock


def read_line(sock: ssl.SSLSocket) -> bytes:
    """One CRLF-terminated line (b"" when the connection closes first), a byte at a time: nothing is read ahead."""
    line = b""
    while not line.endswith(b"\r\n"):
        byte = sock.recv(1)
        if not byte:
            return line
        line += byte
    return line


def closed(sock: socket.socket, timeout: float) -> bool:
    """Whether the other end closes the connection within timeout seconds (whatever it sends first is dropped)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, ssl.SSLError):
        pass
    except TimeoutError:
        return False
    return True


# --- REST -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("/api/login", {"status": "FAIL", "error": "INPUT_VALIDATION_ERROR", "token": ""}),
        ("/api/certlogin", {"loginStatus": "INVALID_USERNAME_OR_PASSWORD"}),
    ],
)
def test_a_login_form_that_is_not_utf8_gets_the_logins_own_failure(emulator, good, server_errors, path, answer):
    body = b"\xff\xfe=a&username=\xe9"
    status, _, raw = raw_http(
        emulator,
        b"POST %s HTTP/1.1\r\nHost: x\r\nX-Application: app-key-1\r\n" % path.encode()
        + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
    )
    assert status == 200 and json.loads(raw).items() >= answer.items()
    good.still_trading()
    assert server_errors() == []


def test_json_rpc_bodies_that_are_no_requests_get_json_rpc_errors(emulator, good, server_errors):
    def codes(body: bytes | str) -> list[int] | int:
        answer = rpc(emulator, good, body)
        assert answer.status_code == 200, answer.text
        got = answer.json()
        return [a["error"]["code"] for a in got] if isinstance(got, list) else got["error"]["code"]

    for body in ("3", '"x"', "null", "true"):
        assert codes(body) == -32600, body
    assert codes("[1]") == [-32600]
    mixed = rpc(emulator, good, '[{"jsonrpc": "2.0", "method": "SportsAPING/v1.0/listCurrentOrders", "id": 1}, 2]')
    assert "result" in mixed.json()[0] and mixed.json()[1]["error"]["code"] == -32600
    for body in ("", "{", b"\xff\xfe", '{"id": NaN}', "{]", "[" * 100_000, '{"a": ' * 50_000):
        assert codes(body) == -32700, body[:20]
    for params in ("[1]", '"x"', "3"):
        body = f'{{"jsonrpc": "2.0", "method": "SportsAPING/v1.0/placeOrders", "params": {params}, "id": 1}}'
        assert codes(body) == -32602, params
    good.still_trading()
    assert server_errors() == []


def _instructions(instruction: str = "", limit: str = "") -> str:
    """A placeOrders instructions field as JSON text: one good instruction with fields added (or overridden)."""
    return (
        f'"instructions": [{{"selectionId": {SELECTION}, "side": "BACK", "orderType": "LIMIT", '
        f'"limitOrder": {{"size": 2.0, "price": 1000, "persistenceType": "LAPSE"{limit}}}{instruction}}}]'
    )


@pytest.mark.parametrize(
    "params",
    [
        '"instructions": "x"',
        '"instructions": [null]',
        '"instructions": [1]',
        '"customerStrategyRef": {"a": 1}, "instructions": []',
        '"customerRef": ["x"], "instructions": []',
        _instructions(', "handicap": "x"'),
        _instructions(', "customerOrderRef": ["x"]'),
        _instructions(', "selectionId": "abc"'),
        _instructions(', "limitOrder": 5'),
        _instructions(limit=', "size": "2"'),
        _instructions(limit=', "price": 1e999'),
        _instructions(limit=', "minFillSize": "x"'),
    ],
)
def test_placements_with_params_of_the_wrong_type_get_invalid_params_and_the_replay_goes_on(
    emulator, good, server_errors, params
):
    body = f'{{"jsonrpc": "2.0", "method": "SportsAPING/v1.0/placeOrders", "params": {{"marketId": "{MARKET}", {params}}}, "id": 7}}'
    answer = rpc(emulator, good, body)
    assert answer.status_code == 200 and answer.json()["id"] == 7, answer.text
    assert answer.json()["error"]["code"] == -32602 and answer.json()["error"]["data"], answer.text
    good.still_trading()
    assert server_errors() == []


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("listCurrentOrders", {"fromRecord": "x"}),
        ("listCurrentOrders", {"customerOrderRefs": [["x"]]}),
        ("listClearedOrders", {"recordCount": 1.5}),
        ("listMarketCatalogue", {"filter": {"marketIds": 5}}),
        ("listMarketCatalogue", {"filter": "x"}),
        ("cancelOrders", {"instructions": [{"betId": "1", "sizeReduction": "x"}]}),
        ("replaceOrders", {"marketId": MARKET, "instructions": [{"betId": "1", "newPrice": [2]}]}),
        ("updateOrders", {"instructions": {"betId": "1"}}),
    ],
)
def test_other_methods_with_params_of_the_wrong_type_get_invalid_params(emulator, good, server_errors, method, params):
    body = {"jsonrpc": "2.0", "method": f"SportsAPING/v1.0/{method}", "params": params, "id": 3}
    answer = rpc(emulator, good, json.dumps(body))
    assert answer.status_code == 200 and answer.json()["error"]["code"] == -32602, answer.text
    good.still_trading()
    assert server_errors() == []


def test_a_placement_without_a_limit_order_fails_its_instruction(emulator, good, server_errors):
    instruction = {"selectionId": SELECTION, "side": "BACK", "orderType": "LIMIT", "limitOrder": None}
    body = {
        "jsonrpc": "2.0",
        "method": "SportsAPING/v1.0/placeOrders",
        "params": {"marketId": MARKET, "instructions": [instruction]},
        "id": 1,
    }
    report = rpc(emulator, good, json.dumps(body)).json()["result"]
    assert report["status"] == "FAILURE" and report["instructionReports"][0]["errorCode"] == "INVALID_ORDER_TYPE"
    good.still_trading()
    assert server_errors() == []


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1, 2"])
def test_a_content_length_that_is_no_length_gets_uvicorns_400(emulator, good, server_errors, length):
    status, headers, body = raw_http(
        emulator, b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n" % length
    )
    assert (status, headers.get("connection", "").lower()) == (400, "close"), body
    good.still_trading()
    assert server_errors() == []


def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(emulator, good, server_errors):
    started = time.monotonic()
    request = b"POST /exchange/betting/json-rpc/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (100 * MiB)
    status, headers, body = raw_http(emulator, request, timeout=3)
    assert status == 413 and headers["connection"] == "close"
    assert _fault(json.loads(body)) == ("REQUEST_SIZE_EXCEEDS_LIMIT", f"request body over {MiB} bytes")
    assert time.monotonic() - started < 2
    good.still_trading()
    assert server_errors() == []


def test_a_chunked_body_is_refused_once_it_passes_the_limit(emulator, good, server_errors):
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(2 * MiB // len(chunk))) + b"0\r\n\r\n"
    head = b"POST /exchange/betting/json-rpc/v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, headers, answer = raw_http(emulator, head + body)
    assert status == 413 and _fault(json.loads(answer)) == (
        "REQUEST_SIZE_EXCEEDS_LIMIT",
        f"request body over {MiB} bytes",
    )
    good.still_trading()
    assert server_errors() == []


def test_a_client_that_hangs_up_halfway_through_its_body_is_one_log_line(emulator, good, server_errors, caplog):
    with socket.create_connection(("127.0.0.1", emulator.rest.port), timeout=5) as sock:
        sock.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nusername=a")
    wait_for(lambda: any("went away" in r.getMessage() for r in caplog.records), 5, "the hang-up to be logged")
    good.still_trading()
    assert server_errors() == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/login", "POST"),
        ("PUT", "/api/certlogin", "POST"),
        ("GET", "/exchange/betting/json-rpc/v1", "POST"),
        ("DELETE", "/exchange/account/json-rpc/v1", "POST"),
        ("PUT", "/emulator/state", "GET, HEAD"),
    ],
)
def test_a_wrong_method_on_an_api_path_gets_a_json_405(emulator, good, server_errors, method, path, allowed):
    answer = requests.request(method, f"{rest(emulator)}{path}", data="{}", timeout=5)
    assert (answer.status_code, set(answer.headers["allow"].split(", "))) == (405, set(allowed.split(", ")))
    assert _fault(answer.json()) == ("INVALID_INPUT_DATA", f"{method} not allowed on {path}")
    good.still_trading()
    assert server_errors() == []


def test_empty_bodies_and_wrong_content_types_get_the_apis_own_answers(emulator, good, server_errors):
    base, key = rest(emulator), {"X-Application": CREDENTIALS["BETFAIR_APP_KEY"]}
    empty = requests.post(f"{base}/api/login", headers=key, timeout=5).json()
    assert (empty["status"], empty["error"]) == ("FAIL", "INVALID_USERNAME_OR_PASSWORD")
    as_json = requests.post(f"{base}/api/certlogin", json=CREDENTIALS, headers=key, timeout=5).json()
    assert as_json == {"loginStatus": "INVALID_USERNAME_OR_PASSWORD"}
    for path in ("keepAlive", "logout"):  # no session header: NO_SESSION, whatever the body
        answer = requests.post(f"{base}/api/{path}", data=b"\xff" * 10, headers=key, timeout=5).json()
        assert (answer["status"], answer["error"]) == ("FAIL", "NO_SESSION")
    assert rpc(emulator, good, "", path="account").json()["error"]["code"] == -32700
    plain = '{"jsonrpc": "2.0", "method": "AccountAPING/v1.0/getAccountFunds", "id": 1}'
    headers = {"X-Application": key["X-Application"], "X-Authentication": good.trading.session_token}
    answer = requests.post(
        f"{base}/exchange/account/json-rpc/v1", data=plain, headers=headers | {"Content-Type": "text/plain"}, timeout=5
    )
    assert answer.json()["result"]["availableToBetBalance"] > 0  # Betfair reads the body whatever its type
    faults = requests.post(f"{base}/emulator/faults", data="[" * 100_000, timeout=5)
    assert faults.status_code == 400 and _fault(faults.json()) == ("INVALID_INPUT_DATA", "nested too deep")
    good.still_trading()
    assert server_errors() == []


# --- the stream ---------------------------------------------------------------------------------------------


def test_connections_that_never_start_tls_neither_delay_a_handshake_nor_stay_open(emulator, good, server_errors):
    idle = [socket.create_connection(("127.0.0.1", emulator.stream.port)) for _ in range(3)]
    started = time.monotonic()
    other = Reading(good.trading, unique_id=50)  # connects, handshakes and authenticates
    assert time.monotonic() - started < 1.0  # well inside the handshake timeout the idle ones are given
    for sock in idle:
        assert closed(sock, AUTH_TIMEOUT + 2)
        sock.close()
    other.stop()
    good.still_trading()
    assert server_errors() == []


def test_a_connection_that_never_authenticates_gets_timeout_and_is_closed(emulator, good, server_errors):
    opened = time.monotonic()
    silent, chatty = tls(emulator), tls(emulator)
    chatty.sendall(b'{"op": "heartbeat", "id": 1}\r\n')  # a heartbeat is answered but is no authentication
    assert json.loads(read_line(chatty))["statusCode"] == "SUCCESS"
    for sock in (silent, chatty):
        sock.settimeout(AUTH_TIMEOUT + 2)
        status = json.loads(read_line(sock))
        assert (status["op"], status["statusCode"], status["errorCode"]) == ("status", "FAILURE", "TIMEOUT")
        assert status["connectionClosed"] is True and time.monotonic() - opened >= AUTH_TIMEOUT
        assert closed(sock, 2)
        sock.close()
    good.still_trading()  # authenticated long before: never timed out
    assert server_errors() == []


def test_a_request_line_over_the_limit_is_refused_and_the_connection_closed(emulator, good, server_errors):
    sock = tls(emulator)
    sock.sendall(b'{"op": "heartbeat", "id": 1, "x": "' + b"a" * (5 * 10**6) + b'"}\r\n')
    status = json.loads(read_line(sock))
    assert (status["statusCode"], status["errorCode"], status["connectionClosed"]) == ("FAILURE", "INVALID_INPUT", True)
    assert closed(sock, 3)
    sock.close()
    unended = tls(emulator)  # a line that never ends: the refusal comes all the same
    unended.sendall(b"a" * (MiB + 100))
    assert json.loads(read_line(unended))["errorCode"] == "INVALID_INPUT"
    unended.close()
    good.still_trading()
    assert server_errors() == []


@pytest.mark.parametrize(
    "request_line",
    [
        b"[1]",
        b"null",
        b'{"op": ["heartbeat"]}',
        b'{"op": "heartbeat", "id": 1.5}',
        b"\xff\xfe",
        b"[" * 100_000,
        b'{"op": "authentication", "session": ["x"], "appKey": "app-key-1"}',
        b'{"op": "marketSubscription", "id": 5, "marketFilter": {"marketIds": 5}}',
        b'{"op": "marketSubscription", "id": 5, "marketFilter": "x"}',
        b'{"op": "marketSubscription", "id": 5, "heartbeatMs": "x"}',
        b'{"op": "marketSubscription", "id": 5, "heartbeatMs": NaN}',
        b'{"op": "orderSubscription", "id": 6, "orderFilter": {"customerStrategyRefs": [{"a": 1}]}}',
    ],
)
def test_a_malformed_stream_request_gets_invalid_input_and_the_connection_closed(
    emulator, good, server_errors, request_line
):
    sock = tls(emulator)
    auth = {"op": "authentication", "id": 1, "appKey": CREDENTIALS["BETFAIR_APP_KEY"]}
    sock.sendall(json.dumps(auth | {"session": good.trading.session_token}).encode() + b"\r\n")
    assert json.loads(read_line(sock))["statusCode"] == "SUCCESS"
    sock.sendall(request_line + b"\r\n")
    status = json.loads(read_line(sock))
    assert (status["statusCode"], status["errorCode"], status["connectionClosed"]) == ("FAILURE", "INVALID_INPUT", True)
    assert closed(sock, 3)
    sock.close()
    good.still_trading()
    assert server_errors() == []
