"""The Exchange Stream API over TLS: connection, authentication, market and order subscriptions, heartbeats."""

from __future__ import annotations

import itertools
import logging
import queue
import socket
import socketserver
import ssl
import threading
from pathlib import Path

from betfairlightweight.compat import json

from emulator.exchange import Exchange

logger = logging.getLogger("paddock.emulator.stream")
CRLF = b"\r\n"
_connection_ids = itertools.count(1)


def encode(message: dict) -> bytes:
    """One stream message as bytes with its CRLF (the JSON library may give str or bytes)."""
    text = json.dumps(message)
    return (text.encode("utf-8") if isinstance(text, str) else text) + CRLF


def _market_matches(market, market_filter: dict) -> bool:
    """Betfair's market filter: ids, event ids, event types, market types, countries (empty = all)."""
    d = market.definition
    checks = (
        ("marketIds", market.market_id),
        ("eventIds", str(d.get("eventId", ""))),
        ("eventTypeIds", str(d.get("eventTypeId", ""))),
        ("marketTypes", d.get("marketType")),
        ("countryCodes", d.get("countryCode")),
    )
    for key, value in checks:
        wanted = market_filter.get(key)
        if wanted and value not in [str(w) for w in wanted]:
            return False
    return True


class StreamConnection:
    """One client connection: reads requests, and a writer thread sends replies, data and heartbeats in order."""

    def __init__(self, sock: socket.socket, exchange: Exchange) -> None:
        self.sock = sock
        self.exchange = exchange
        self.outbox: queue.Queue[dict | None] = queue.Queue()
        self.authenticated = False
        self.market_sub: int | None = None
        self.market_filter: dict = {}
        self.sent_markets: set[str] = set()
        self.order_sub: int | None = None
        self.strategy_refs: set[str] = set()
        self.heartbeat = 5.0
        self.last_clk = "0"
        self._closed = threading.Event()

    # --- what the exchange pushes ---------------------------------------------------------------

    def market_changes(self, exchange: Exchange, changes: list[dict], pt: int, clk: str) -> None:
        """Queue the subscribed part of a market-change message (an image for a market seen for the first time)."""
        if self.market_sub is None:
            return
        mc = []
        for change in changes:
            market = exchange.markets.get(str(change["id"]))
            if market is None or not _market_matches(market, self.market_filter):
                continue
            if market.market_id not in self.sent_markets:
                self.sent_markets.add(market.market_id)
                mc.append(market.image())
            else:
                mc.append(change)
        if mc:
            self.last_clk = clk
            self.outbox.put({"op": "mcm", "id": self.market_sub, "clk": clk, "pt": pt, "mc": mc})

    def order_changes(self, oc: list[dict], pt: int, clk: str) -> None:
        """Queue order changes of the subscribed strategy refs."""
        if self.order_sub is None:
            return
        if self.strategy_refs:
            oc = [
                {**m, "orc": [{**r, "uo": [u for u in r["uo"] if u["rfs"] in self.strategy_refs]} for r in m["orc"]]}
                for m in oc
            ]
            oc = [m for m in oc if any(r["uo"] for r in m["orc"])]
        if oc:
            self.outbox.put({"op": "ocm", "id": self.order_sub, "clk": clk, "pt": pt, "oc": oc})

    def status_503(self, pt: int, clk: str) -> None:
        """Queue a 503 (data delayed) status on the market subscription."""
        if self.market_sub is not None:
            self.outbox.put({"op": "mcm", "id": self.market_sub, "clk": clk, "pt": pt, "status": 503})

    def close(self) -> None:
        """Drop the connection."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.outbox.put(None)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    # --- the connection's life --------------------------------------------------------------------

    def serve(self) -> None:
        """Greet, then answer requests until the client or the exchange closes the connection."""
        writer = threading.Thread(target=self._write, name="emulator-stream-writer", daemon=True)
        writer.start()
        self.outbox.put({"op": "connection", "connectionId": f"emulator-{next(_connection_ids):06d}"})
        buffer = b""
        try:
            while not self._closed.is_set():
                data = self.sock.recv(65536)
                if not data:
                    break
                buffer += data
                while CRLF in buffer:
                    line, buffer = buffer.split(CRLF, 1)
                    if line.strip():
                        self._request(line)
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.exchange.unsubscribe(self)
            self.close()
            writer.join(timeout=2)

    def _write(self) -> None:
        while True:
            try:
                message = self.outbox.get(timeout=self.heartbeat)
            except queue.Empty:
                message = self._heartbeat()
                if message is None:
                    continue
            if message is None:
                return
            try:
                self.sock.sendall(encode(message))
            except (OSError, ssl.SSLError):
                self.close()
                return

    def _heartbeat(self) -> dict | None:
        if self.market_sub is not None:
            return {
                "op": "mcm",
                "id": self.market_sub,
                "clk": self.last_clk,
                "pt": self.exchange.now_ms(),
                "ct": "HEARTBEAT",
            }
        if self.order_sub is not None:
            return {
                "op": "ocm",
                "id": self.order_sub,
                "clk": self.last_clk,
                "pt": self.exchange.now_ms(),
                "ct": "HEARTBEAT",
            }
        return None

    def _status(self, request_id, code: str = "SUCCESS", error: str | None = None, close: bool = False) -> None:
        message = {"op": "status", "id": request_id, "statusCode": code, "connectionClosed": close}
        if error:
            message["errorCode"] = error
            message["errorMessage"] = error.replace("_", " ").lower()
        self.outbox.put(message)
        if close:
            self.outbox.put(None)

    def _request(self, line: bytes) -> None:
        try:
            request = json.loads(line)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            self._status(None, "FAILURE", "INVALID_INPUT", close=True)
            return
        request_id = request.get("id")
        if op == "heartbeat":
            self._status(request_id)
        elif op == "authentication":
            error = self.exchange.session_error(request.get("session"), request.get("appKey"))
            if error:
                self._status(request_id, "FAILURE", error, close=True)
            else:
                self.authenticated = True
                self._status(request_id)
        elif not self.authenticated:
            self._status(request_id, "FAILURE", "NOT_AUTHORIZED", close=True)
        elif op == "marketSubscription":
            self._subscribe_markets(request)
        elif op == "orderSubscription":
            self._subscribe_orders(request)
        else:
            self._status(request_id, "FAILURE", "INVALID_REQUEST")

    def _heartbeat_ms(self, request: dict) -> None:
        ms = request.get("heartbeatMs") or 5000
        self.heartbeat = min(max(int(ms), 500), 5000) / 1000.0

    def _subscribe_markets(self, request: dict) -> None:
        resubscribe = bool(request.get("initialClk") and request.get("clk"))
        self._heartbeat_ms(request)
        with self.exchange.lock:
            self.market_sub = request.get("id")
            self.market_filter = request.get("marketFilter") or {}
            self._status(self.market_sub)
            images = [m.image() for m in self.exchange.markets.values() if _market_matches(m, self.market_filter)]
            self.sent_markets = {m["id"] for m in images}
            clk = self.exchange.clk()
            self.last_clk = clk
            self.outbox.put(
                {
                    "op": "mcm",
                    "id": self.market_sub,
                    "initialClk": clk,
                    "clk": clk,
                    "conflateMs": 0,
                    "heartbeatMs": int(self.heartbeat * 1000),
                    "pt": self.exchange.now_ms(),
                    "ct": "RESUB_DELTA" if resubscribe else "SUB_IMAGE",
                    "mc": images,
                }
            )
            self.exchange.subscribe(self)
        self.exchange.start_replay()

    def _subscribe_orders(self, request: dict) -> None:
        self._heartbeat_ms(request)
        order_filter = request.get("orderFilter") or {}
        with self.exchange.lock:
            self.order_sub = request.get("id")
            self.strategy_refs = set(order_filter.get("customerStrategyRefs") or ())
            self._status(self.order_sub)
            orders = [
                o
                for o in self.exchange.engine.orders.values()
                if not o.complete and (not self.strategy_refs or o.rfs in self.strategy_refs)
            ]
            oc: dict[str, dict[int, list]] = {}
            for o in orders:
                oc.setdefault(o.market_id, {}).setdefault(o.selection_id, []).append(o.uo())
            clk = self.exchange.clk()
            self.outbox.put(
                {
                    "op": "ocm",
                    "id": self.order_sub,
                    "initialClk": clk,
                    "clk": clk,
                    "conflateMs": 0,
                    "heartbeatMs": int(self.heartbeat * 1000),
                    "pt": self.exchange.now_ms(),
                    "ct": "SUB_IMAGE",
                    "oc": [
                        {"id": mid, "orc": [{"fullImage": True, "id": sid, "uo": uo} for sid, uo in runners.items()]}
                        for mid, runners in oc.items()
                    ],
                }
            )
            self.exchange.subscribe(self)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        exchange: Exchange = self.server.exchange  # type: ignore[attr-defined]
        if exchange.refusing():
            return
        StreamConnection(self.request, exchange).serve()


class StreamServer(socketserver.ThreadingTCPServer):
    """TLS server on 127.0.0.1 speaking the Exchange Stream API."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, exchange: Exchange, cert: Path, key: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.exchange = exchange
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))

    def get_request(self):
        """Accept and wrap in TLS."""
        sock, address = super().get_request()
        sock.settimeout(10)
        try:
            tls = self.context.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            sock.close()
            raise
        tls.settimeout(None)
        return tls, address

    def handle_error(self, request, client_address) -> None:
        """A client that vanished is not an error worth a traceback."""
        logger.debug("stream connection from %s ended with an error", client_address, exc_info=True)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.server_address[1]
