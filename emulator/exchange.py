"""The emulated exchange's state: replayed markets, orders, sessions, stream subscribers and faults."""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections import Counter

from core.errors import EmulatorError
from emulator.book import MarketState
from emulator.faults import Fault, FaultBook
from emulator.matching import MatchingEngine
from emulator.orders import Order, order_changes
from emulator.replay import Message
from emulator.subscriber import Subscriber

logger = logging.getLogger("paddock.emulator")

DEDUPE_SECONDS = 60.0  # Betfair refuses a placeOrders whose customerRef it accepted this recently


class Exchange:
    """Markets replayed from recordings, the orders placed on them, and who is logged in and listening."""

    def __init__(
        self,
        messages: list[Message],
        speed: float = 1.0,
        username: str | None = None,
        password: str | None = None,
        app_key: str | None = None,
    ) -> None:
        if speed <= 0:
            raise EmulatorError(f"--speed must be positive (got {speed})")
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.messages = messages
        self.speed = speed
        self.username, self.password, self.app_key = username, password, app_key
        self.markets: dict[str, MarketState] = {}
        self.engine = MatchingEngine()
        self.sessions: dict[str, str] = {}  # token -> app key
        self.issued: list[str] = []  # every session token handed out
        self.logins = 0
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[float, str, dict]] = []  # (wall time, method, params)
        self.subscribers: set[Subscriber] = set()
        self.faults = FaultBook()
        self.settled: dict[str, int] = {}
        self.customer_refs: dict[str, float] = {}  # placeOrders customerRef -> wall time first accepted
        self.suspensions: Counter[str] = Counter()
        self.published = 0
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._started_at: float | None = None
        self._clk = itertools.count(1)
        self._refuse_until = 0.0
        self._duplicate_left = 0
        self._reorder_left = 0
        self._held: list[dict] | None = None
        self._threads: list[threading.Thread] = []

    def first_placement(self, customer_ref: str, window: float = DEDUPE_SECONDS) -> bool:
        """Note a placeOrders customerRef; False if the same ref was accepted within the window (a re-submission)."""
        now = time.time()
        with self.lock:
            for ref, at in list(self.customer_refs.items()):
                if now - at > window:
                    del self.customer_refs[ref]
            if customer_ref in self.customer_refs:
                return False
            self.customer_refs[customer_ref] = now
            return True

    # --- time -------------------------------------------------------------------------------------

    def start_replay(self) -> None:
        """Start replaying (once); the first market subscription calls this."""
        with self.lock:
            if self._started_at is not None:
                return
            self._started_at = time.monotonic()
        thread = threading.Thread(target=self._replay, name="emulator-replay", daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def started(self) -> bool:
        """Whether the replay has begun."""
        return self._started_at is not None

    def elapsed(self) -> float:
        """Wall seconds since the replay began (0 before)."""
        return 0.0 if self._started_at is None else time.monotonic() - self._started_at

    def market_time(self) -> float:
        """Seconds of (gap-capped) market time replayed so far."""
        return self.elapsed() * self.speed

    @staticmethod
    def now_ms() -> int:
        """Publish time for messages sent now."""
        return int(time.time() * 1000)

    def clk(self) -> str:
        """A fresh stream clock token."""
        return str(next(self._clk))

    def wait_market_time(self, until: float) -> None:
        """Block until the replay reaches a market time (an in-play bet delay)."""
        while not self._stop.is_set() and self.market_time() < until:
            remaining = (until - self.market_time()) / self.speed
            self._stop.wait(min(max(remaining, 0.001), 0.05))

    def pause(self, seconds: float) -> None:
        """Sleep, cut short when the exchange stops (a `delay` fault)."""
        self._stop.wait(seconds)

    # --- replay -----------------------------------------------------------------------------------

    def _replay(self) -> None:
        started = self._started_at
        for message in self.messages:
            due = started + message.offset / self.speed
            while not self._stop.is_set():
                remaining = due - time.monotonic()
                if remaining <= 0:
                    break
                self._stop.wait(min(remaining, 0.05))
            if self._stop.is_set():
                return
            self.publish(message.changes)
        logger.info("replay finished: %d messages", len(self.messages))
        self.finished.set()

    def publish(self, changes: list[dict]) -> None:
        """Apply one market-change message to the book and the orders, and push it to subscribers."""
        with self.lock:
            now = self.now_ms()
            changed_orders: list[Order] = []
            for change in changes:
                market_id = str(change["id"])
                market = self.markets.get(market_id)
                if market is None:
                    market = self.markets[market_id] = MarketState(market_id)
                before = (market.status, market.in_play)
                traded = market.apply(change)
                if market.status != "OPEN" and before[0] == "OPEN":
                    self.suspensions[market_id] += 1
                changed_orders.extend(self.engine.on_change(market, change, traded, before, now))
                if market.status == "CLOSED" and market_id not in self.settled:
                    self.settled[market_id] = now
            self.published += 1
            for batch in self._faulty(changes):
                clk = self.clk()
                for sub in list(self.subscribers):
                    sub.market_changes(batch, now, clk)
            if changed_orders:
                self.push_orders(changed_orders)
            self.changed.notify_all()

    def _faulty(self, changes: list[dict]) -> list[list[dict]]:
        """The batches to send for one message, after duplicate / reorder faults."""
        batches = [changes]
        if self._duplicate_left > 0:
            self._duplicate_left -= 1
            batches = [changes, changes]
        if self._held is not None:
            batches.append(self._held)
            self._held = None
        elif self._reorder_left > 0:
            self._reorder_left -= 1
            self._held = changes
            batches = batches[1:]
        return batches

    def push_orders(self, orders: list[Order]) -> None:
        """Send order changes on every order subscription."""
        closed = {m for m in {o.market_id for o in orders} if m in self.markets and self.markets[m].status == "CLOSED"}
        oc = order_changes(orders, closed)
        now, clk = self.now_ms(), self.clk()
        for sub in list(self.subscribers):
            sub.order_changes(oc, now, clk)

    # --- sessions ---------------------------------------------------------------------------------

    def login(self, username: str, password: str, app_key: str) -> str | None:
        """A new session token, or None when the credentials are wrong."""
        if not username or not password or not app_key:
            return None
        if (self.username and username != self.username) or (self.password and password != self.password):
            return None
        if self.app_key and app_key != self.app_key:
            return None
        token = secrets.token_hex(16)
        with self.lock:
            self.sessions[token] = app_key
            self.issued.append(token)
            self.logins += 1
        return token

    def session_error(self, token: str | None, app_key: str | None) -> str | None:
        """None when the token and app key are a valid session, else Betfair's error code."""
        if not app_key:
            return "NO_APP_KEY"
        if not token:
            return "NO_SESSION"
        known = self.sessions.get(token)
        if known is None:
            return "INVALID_SESSION_INFORMATION"
        if known != app_key:
            return "INVALID_APP_KEY"
        return None

    def logout(self, token: str | None) -> bool:
        """End a session."""
        with self.lock:
            return self.sessions.pop(token or "", None) is not None

    # --- stream connections -----------------------------------------------------------------------

    def refusing(self) -> bool:
        """Whether new stream connections are refused (after a drop_stream fault)."""
        return time.monotonic() < self._refuse_until

    def subscribe(self, sub: Subscriber) -> None:
        """Start pushing to a stream connection."""
        with self.lock:
            self.subscribers.add(sub)

    def unsubscribe(self, sub: Subscriber) -> None:
        """Stop pushing to a stream connection."""
        with self.lock:
            self.subscribers.discard(sub)

    # --- faults -----------------------------------------------------------------------------------

    def add_faults(self, faults: list[Fault]) -> None:
        """Schedule or arm faults; stream faults without a time run at once."""
        for fault in self.faults.add(faults):
            self.run_fault(fault)

    def run_fault(self, fault: Fault) -> None:
        """Carry out a stream or session fault now."""
        logger.warning("fault: %s", fault.model_dump(exclude_defaults=True))
        with self.lock:
            if fault.kind == "drop_stream":
                self._refuse_until = time.monotonic() + fault.seconds
                subs = list(self.subscribers)
                self.subscribers.clear()
            elif fault.kind == "status_503":
                subs = []
                for _ in range(fault.count):
                    now, clk = self.now_ms(), self.clk()
                    for sub in list(self.subscribers):
                        sub.status_503(now, clk)
            elif fault.kind == "invalidate_session":
                self.sessions.clear()
                subs = []
            elif fault.kind == "duplicate":
                self._duplicate_left += fault.count
                subs = []
            elif fault.kind == "reorder":
                self._reorder_left += fault.count
                subs = []
            else:
                subs = []
        for sub in subs:
            sub.close()

    def _fault_clock(self) -> None:
        while not self._stop.wait(0.05):
            if self.started:
                for fault in self.faults.due(self.elapsed()):
                    self.run_fault(fault)

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the fault clock (the replay starts with the first market subscription)."""
        thread = threading.Thread(target=self._fault_clock, name="emulator-faults", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop replaying and close every stream connection."""
        self._stop.set()
        with self.lock:
            subs = list(self.subscribers)
            self.subscribers.clear()
        for sub in subs:
            sub.close()
        for thread in self._threads:
            thread.join(timeout=2)
