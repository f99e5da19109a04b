"""One Exchange Stream API connection: a coroutine reading requests and one writing replies, data and heartbeats.

Every outgoing message goes through one thread-safe queue, from the connection's own coroutine and from the
exchange's threads (replay, REST calls, faults) alike, so messages leave in the order they were produced; the
loop is woken (`call_soon_threadsafe`) once per burst, not once per message."""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import threading
from collections import deque

from betfairlightweight.compat import json

from emulator.exchange import Exchange
from emulator.projection import Projection
from emulator.shapes import stream_problem
from emulator.subscriptions import (
    approximation_note,
    heartbeat_seconds,
    market_image,
    market_matches,
    of_strategies,
    order_image,
)

logger = logging.getLogger("paddock.emulator.stream")
CRLF = b"\r\n"
LINE_LIMIT = 1 << 20  # longest request line read: a longer one is refused (INVALID_INPUT) and the connection closed
DISCARD_LIMIT = 16 * LINE_LIMIT  # bytes of a refused line read on to its end, so its sender reads the refusal
CLOSE_SECONDS = 5.0  # a closed connection's client has this long to hang up before the socket is dropped
AUTH_SECONDS = 30.0  # a connection not authenticated this long after its TLS handshake is closed (TIMEOUT)
WRITE_BUFFER = 1 << 20  # bytes written ahead of the client before the writer waits for it
_connection_ids = itertools.count(1)
_CLOSE = object()  # in the outbox: send what came before, then close


def _id(request_id: int | None) -> dict:
    """The id field of a reply or data message: the request's id, left out when the request had none."""
    return {} if request_id is None else {"id": request_id}


def encode(message: dict) -> bytes:
    """One stream message as bytes with its CRLF (the JSON library may give str or bytes)."""
    text = json.dumps(message)
    return (text.encode("utf-8") if isinstance(text, str) else text) + CRLF


class StreamConnection:
    """One client connection: requests answered in order, subscriptions, and what the exchange pushes."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        exchange: Exchange,
        loop: asyncio.AbstractEventLoop,
        auth_timeout: float = AUTH_SECONDS,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.exchange = exchange
        self.loop = loop
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.authenticated = False
        self.market_sub: int | None = None
        self.market_subscribed = False
        self.projection = Projection(None)
        self.market_filter: dict = {}
        self.sent_markets: set[str] = set()
        self.order_sub: int | None = None
        self.order_subscribed = False
        self.strategy_refs: set[str] = set()
        self.heartbeat = 5.0
        self.last_clk = "0"
        self.closed = False
        self.closing = False  # a status with connectionClosed is on its way: no more requests are read
        self.auth_timeout = auth_timeout
        self._posted: deque = deque()  # posted from any thread, moved to the outbox on the loop
        self._posted_lock = threading.Lock()
        self._wake_due = False

    # --- what the exchange pushes (from any thread) -------------------------------------------------

    def _post(self, message) -> None:
        """Queue a message for the writer, from any thread."""
        with self._posted_lock:
            self._posted.append(message)
            wake, self._wake_due = not self._wake_due, True
        if wake:
            try:
                self.loop.call_soon_threadsafe(self._take_posted)
            except RuntimeError:  # the loop has closed: the emulator is stopping
                pass

    def _take_posted(self) -> None:
        """Move what was posted into the writer's outbox, in order (on the loop)."""
        with self._posted_lock:
            messages = list(self._posted)
            self._posted.clear()
            self._wake_due = False
        for message in messages:
            self.outbox.put_nowait(message)

    def market_changes(self, changes: list[dict], pt: int, clk: str, conflated: bool = False) -> None:
        """Queue the subscribed part of a market-change message (an image for a market seen for the first time);
        `conflated` marks it `con: true`, as Betfair does when it merged several updates into one."""
        if not self.market_subscribed:
            return
        mc = []
        for change in changes:
            market = self.exchange.markets.get(str(change["id"]))
            if market is None or not market_matches(market, self.market_filter):
                continue
            if market.market_id not in self.sent_markets:
                self.sent_markets.add(market.market_id)
                mc.append(self.projection.image(market))
            else:
                mc.append(self.projection.change(market, change))
        if mc:
            self.last_clk = clk
            message = {"op": "mcm", **_id(self.market_sub), "clk": clk, "pt": pt, "mc": mc}
            if conflated:
                message["con"] = True
            self._post(message)

    def order_changes(self, oc: list[dict], pt: int, clk: str) -> None:
        """Queue order changes of the subscribed strategy refs."""
        if not self.order_subscribed:
            return
        oc = of_strategies(oc, self.strategy_refs)
        if oc:
            self._post({"op": "ocm", **_id(self.order_sub), "clk": clk, "pt": pt, "oc": oc})

    def status_503(self, pt: int, clk: str) -> None:
        """Queue a 503 (data delayed) status on the market subscription."""
        if self.market_subscribed:
            self._post({"op": "mcm", **_id(self.market_sub), "clk": clk, "pt": pt, "status": 503})

    def close(self) -> None:
        """Drop the connection at once, from any thread."""
        try:
            self.loop.call_soon_threadsafe(self.abort)
        except RuntimeError:
            pass

    def abort(self) -> None:
        """Drop the connection at once; what is still queued is not sent. On the loop."""
        self.closed = True
        self.writer.transport.abort()

    # --- the connection's life (on the loop) ----------------------------------------------------------

    async def serve(self) -> None:
        """Greet, then answer requests until the client or the exchange closes the connection."""
        writing = asyncio.create_task(self._write())
        self._post({"op": "connection", "connectionId": f"emulator-{next(_connection_ids):06d}"})
        deadline = self.loop.call_later(self.auth_timeout, self._auth_timed_out)
        try:
            while not self.closing and not self.closed:
                try:
                    line = await self.reader.readuntil(CRLF)
                except asyncio.LimitOverrunError:
                    await self._refuse_long_line()
                    break
                if line.strip() and not self.closing:
                    self._request(line[: -len(CRLF)])
            async with asyncio.timeout(CLOSE_SECONDS):  # what comes before the client hangs up goes unread
                while await self.reader.read(1 << 16):
                    pass
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, ssl.SSLError, OSError):
            pass  # the client went away, or did not hang up when told: as when it hangs up
        finally:
            deadline.cancel()
            self.exchange.unsubscribe(self)
            self.abort()
            writing.cancel()
            try:
                await writing
            except asyncio.CancelledError:
                pass

    async def _write(self) -> None:
        """Send the outbox in order; a heartbeat when it stays empty. Drains when it is empty or much is buffered."""
        try:
            while True:
                if not self.outbox.empty():
                    message = self.outbox.get_nowait()  # a burst (a fast replay) goes without a timer per message
                else:
                    await self.writer.drain()
                    try:
                        message = await asyncio.wait_for(self.outbox.get(), self.heartbeat)
                    except TimeoutError:
                        message = self._heartbeat()
                        if message is None:
                            continue
                if message is _CLOSE:
                    self.closed = True
                    self.writer.close()  # after what was written: the client reads its status first
                    return
                self.writer.write(encode(message))
                if self.exchange.probe is not None:
                    self.exchange.probe.wrote(message)
                if self.writer.transport.get_write_buffer_size() > WRITE_BUFFER:
                    await self.writer.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            self.abort()

    async def _refuse_long_line(self) -> None:
        """Refuse a request line over LINE_LIMIT: the refusal at once, then read on to its end (or a limit), then close."""
        self.closing = True  # the status says the connection is closed; it closes once the line has been read
        self._status(None, "FAILURE", "INVALID_INPUT", f"request line over {LINE_LIMIT} bytes")
        read = 0
        async with asyncio.timeout(CLOSE_SECONDS):
            while read < DISCARD_LIMIT:
                chunk = await self.reader.read(1 << 16)
                read += len(chunk)
                if not chunk or b"\n" in chunk:
                    break
        self._post(_CLOSE)

    def _auth_timed_out(self) -> None:
        if not self.authenticated and not self.closing:
            self._status(None, "FAILURE", "TIMEOUT", f"not authenticated within {self.auth_timeout:g} s", close=True)

    def _heartbeat(self) -> dict | None:
        if not self.market_subscribed and not self.order_subscribed:
            return None
        sub_id, op = (self.market_sub, "mcm") if self.market_subscribed else (self.order_sub, "ocm")
        return {"op": op, **_id(sub_id), "clk": self.last_clk, "pt": self.exchange.now_ms(), "ct": "HEARTBEAT"}

    def _status(
        self, request_id, code: str = "SUCCESS", error: str | None = None, message: str = "", close: bool = False
    ) -> None:
        status = {"op": "status", **_id(request_id), "statusCode": code, "connectionClosed": close or self.closing}
        if error:
            status["errorCode"] = error
            status["errorMessage"] = message or error.replace("_", " ").lower()
        elif message:
            status["errorMessage"] = message  # a note on a SUCCESS (an approximated field): the one text field
        self._post(status)
        if close:
            self.closing = True
            self._post(_CLOSE)

    def _request(self, line: bytes) -> None:
        try:
            request = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
            request = None
        wrong = "not JSON" if request is None else stream_problem(request)
        if wrong:
            self._status(None, "FAILURE", "INVALID_INPUT", wrong, close=True)
            return
        op, request_id = request["op"], request.get("id")
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
        elif op in self._SUBSCRIPTIONS:
            self._SUBSCRIPTIONS[op](self, request)
        else:
            self._status(request_id, "FAILURE", "INVALID_REQUEST")

    def _subscribe_markets(self, request: dict) -> None:
        resubscribe = bool(request.get("initialClk") and request.get("clk"))
        self.heartbeat = heartbeat_seconds(request)
        with self.exchange.lock:
            self.market_sub = request.get("id")
            self.market_subscribed = True
            self.market_filter = request.get("marketFilter") or {}
            self.projection = Projection(request.get("marketDataFilter"))
            self._status(self.market_sub, message=approximation_note(self.exchange, self.projection))
            image = market_image(
                self.exchange, self.market_sub, self.market_filter, self.heartbeat, resubscribe, self.projection
            )
            self.sent_markets = {m["id"] for m in image["mc"]}
            self.last_clk = image["clk"]
            self._post(image)
            self.exchange.subscribe(self)
        self.exchange.start_replay()

    def _subscribe_orders(self, request: dict) -> None:
        self.heartbeat = heartbeat_seconds(request)
        order_filter = request.get("orderFilter") or {}
        with self.exchange.lock:
            self.order_sub = request.get("id")
            self.order_subscribed = True
            self.strategy_refs = set(order_filter.get("customerStrategyRefs") or ())
            self._status(self.order_sub)
            self._post(order_image(self.exchange, self.order_sub, self.strategy_refs, self.heartbeat))
            self.exchange.subscribe(self)

    _SUBSCRIPTIONS = {"marketSubscription": _subscribe_markets, "orderSubscription": _subscribe_orders}
