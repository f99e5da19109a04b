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
from emulator.subscriptions import heartbeat_seconds, market_image, market_matches, of_strategies, order_image

logger = logging.getLogger("paddock.emulator.stream")
CRLF = b"\r\n"
LINE_LIMIT = 1 << 20  # longest request line read
WRITE_BUFFER = 1 << 20  # bytes written ahead of the client before the writer waits for it
_connection_ids = itertools.count(1)
_CLOSE = object()  # in the outbox: send what came before, then close


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
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.exchange = exchange
        self.loop = loop
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.authenticated = False
        self.market_sub: int | None = None
        self.market_filter: dict = {}
        self.sent_markets: set[str] = set()
        self.order_sub: int | None = None
        self.strategy_refs: set[str] = set()
        self.heartbeat = 5.0
        self.last_clk = "0"
        self.closed = False
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

    def market_changes(self, changes: list[dict], pt: int, clk: str) -> None:
        """Queue the subscribed part of a market-change message (an image for a market seen for the first time)."""
        if self.market_sub is None:
            return
        mc = []
        for change in changes:
            market = self.exchange.markets.get(str(change["id"]))
            if market is None or not market_matches(market, self.market_filter):
                continue
            if market.market_id not in self.sent_markets:
                self.sent_markets.add(market.market_id)
                mc.append(market.image())
            else:
                mc.append(change)
        if mc:
            self.last_clk = clk
            self._post({"op": "mcm", "id": self.market_sub, "clk": clk, "pt": pt, "mc": mc})

    def order_changes(self, oc: list[dict], pt: int, clk: str) -> None:
        """Queue order changes of the subscribed strategy refs."""
        if self.order_sub is None:
            return
        oc = of_strategies(oc, self.strategy_refs)
        if oc:
            self._post({"op": "ocm", "id": self.order_sub, "clk": clk, "pt": pt, "oc": oc})

    def status_503(self, pt: int, clk: str) -> None:
        """Queue a 503 (data delayed) status on the market subscription."""
        if self.market_sub is not None:
            self._post({"op": "mcm", "id": self.market_sub, "clk": clk, "pt": pt, "status": 503})

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
        try:
            while not self.closed:
                line = await self.reader.readuntil(CRLF)
                if line.strip():
                    self._request(line[: -len(CRLF)])
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError, OSError):
            pass  # the client went away or sent garbage: as when it hangs up
        finally:
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
                if self.writer.transport.get_write_buffer_size() > WRITE_BUFFER:
                    await self.writer.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            self.abort()

    def _heartbeat(self) -> dict | None:
        sub_id, op = (self.market_sub, "mcm") if self.market_sub is not None else (self.order_sub, "ocm")
        if sub_id is None:
            return None
        return {"op": op, "id": sub_id, "clk": self.last_clk, "pt": self.exchange.now_ms(), "ct": "HEARTBEAT"}

    def _status(self, request_id, code: str = "SUCCESS", error: str | None = None, close: bool = False) -> None:
        message = {"op": "status", "id": request_id, "statusCode": code, "connectionClosed": close}
        if error:
            message["errorCode"] = error
            message["errorMessage"] = error.replace("_", " ").lower()
        self._post(message)
        if close:
            self._post(_CLOSE)

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
        elif op in self._SUBSCRIPTIONS:
            self._SUBSCRIPTIONS[op](self, request)
        else:
            self._status(request_id, "FAILURE", "INVALID_REQUEST")

    def _subscribe_markets(self, request: dict) -> None:
        resubscribe = bool(request.get("initialClk") and request.get("clk"))
        self.heartbeat = heartbeat_seconds(request)
        with self.exchange.lock:
            self.market_sub = request.get("id")
            self.market_filter = request.get("marketFilter") or {}
            self._status(self.market_sub)
            image = market_image(self.exchange, self.market_sub, self.market_filter, self.heartbeat, resubscribe)
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
            self.strategy_refs = set(order_filter.get("customerStrategyRefs") or ())
            self._status(self.order_sub)
            self._post(order_image(self.exchange, self.order_sub, self.strategy_refs, self.heartbeat))
            self.exchange.subscribe(self)

    _SUBSCRIPTIONS = {"marketSubscription": _subscribe_markets, "orderSubscription": _subscribe_orders}
