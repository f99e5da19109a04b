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
from emulator.catalogue import Catalogue
from emulator.clock import ReplayClock
from emulator.faults import Fault, FaultBook, MessageFaults
from emulator.matching import MatchingEngine
from emulator.orders import Order, order_changes
from emulator.placement import Placement, decide
from emulator.probe import Probe
from emulator.replay import Message
from emulator.replayer import replay
from emulator.subscriber import Subscriber

logger = logging.getLogger("paddock.emulator")

DEDUPE_SECONDS = 60.0  # Betfair refuses a placeOrders whose customerRef it accepted this recently
PLACE_WAIT_SECONDS = 10.0  # wall seconds a placement waits past its due time for the replay before it goes anyway
DONE_IDLE_SECONDS = 1.0  # after the replay: nobody logged in or nobody subscribed this long, and the exchange is done
DONE_AFTER_SECONDS = 120.0  # after the replay: done at the latest this long after it ended (wall seconds)


class Exchange:
    """Markets replayed from recordings, the orders placed on them, and who is logged in and listening."""

    def __init__(
        self,
        messages: list[Message],
        speed: float = 1.0,
        username: str | None = None,
        password: str | None = None,
        app_key: str | None = None,
        probe: Probe | None = None,
        names: dict[str, dict] | None = None,
    ) -> None:
        if speed <= 0:
            raise EmulatorError(f"--speed must be positive (got {speed})")
        self.lock = threading.RLock()
        self.probe = probe  # when given: times of stream writes and call arrivals (bench.tick_to_trade)
        self.changed = threading.Condition(self.lock)
        self.messages = messages
        self.catalogue = Catalogue(messages, names)  # every market from the start, named from `names` if given
        self.speed = speed
        self.clock = ReplayClock(speed)
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
        self.published = 0
        self.finished = threading.Event()  # the replay has published its last message
        self.done = threading.Event()  # finished, and the clients have gone (see _tick); `emulate --exit-when-done`
        self.placements: list[Placement] = []  # placeOrders calls whose orders have not reached the book yet
        self.next_ms = 0  # market ms of the next message to publish (NEVER once the replay has ended)
        self.finished_at: float | None = None
        self._idle_since: float | None = None
        self.stopping = threading.Event()  # set by stop(): the replay, sleeps and waits end
        self._clk = itertools.count(1)
        self._refuse_until = 0.0
        self.message_faults = MessageFaults()
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
        if not self.clock.start():
            return
        thread = threading.Thread(target=replay, args=(self,), name="emulator-replay", daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def started(self) -> bool:
        """Whether the replay has begun."""
        return self.clock.started

    def now_ms(self) -> int:
        """The exchange's now (epoch ms): market time of the replay (wall time before it starts)."""
        return self.clock.now_ms()

    def replay_start_ms(self) -> int:
        """Epoch ms the replay started, or would start were it to start now."""
        return self.clock.start_ms if self.started else self.clock.now_ms()

    def clk(self) -> str:
        """A fresh stream clock token."""
        return str(next(self._clk))

    def set_speed(self, speed: float) -> None:
        """Replay on at another speed from now (tests: slow while a bot restarts, then fast)."""
        if speed <= 0:
            raise EmulatorError(f"speed must be positive (got {speed})")
        with self.lock:
            self.speed = speed
            self.clock.set_speed(speed)
            self.changed.notify_all()

    def pause(self, seconds: float) -> None:
        """Sleep wall seconds, cut short when the exchange stops."""
        self.stopping.wait(seconds)

    def pause_market(self, seconds: float) -> None:
        """Sleep market seconds (a `delay` fault): seconds / speed of wall time, cut short when the exchange stops."""
        self.pause(self.clock.wall_seconds(seconds))

    # --- placements ---------------------------------------------------------------------------------

    def submit(self, placement: Placement) -> None:
        """Queue a placement; its orders reach the book when the replay passes their time (see placement.py)."""
        with self.lock:
            self.placements.append(placement)

    def await_placement(self, placement: Placement) -> None:
        """Block until every instruction of a placement has reached the book.

        The replay decides them on the first message due; with no message due, they go once market time has
        passed their due time; and at the latest PLACE_WAIT_SECONDS (wall) past it, or when the exchange stops."""
        late = max(placement.due_ms - self.clock.offset_ms(), 0) / 1000
        give_up = time.monotonic() + self.clock.wall_seconds(late) + PLACE_WAIT_SECONDS
        with self.lock:
            while not placement.done.is_set():
                now = self.clock.offset_ms()
                quiet = now > placement.due_ms and self.next_ms > placement.due_ms
                if quiet or self.stopping.is_set() or time.monotonic() >= give_up:
                    self.decide([placement], None)
                    break
                wait = self.clock.wall_seconds(max(placement.due_ms - now, 1) / 1000)
                self.changed.wait(min(max(wait, 0.001), 0.05))
            self.placements = [p for p in self.placements if not p.done.is_set()]

    def decide(self, placements: list[Placement], message_ms: int | None) -> None:
        """Put what is due of these placements on the book now (before the message at message_ms). Locked."""
        made: list[Order] = []
        now = self.now_ms()
        for placement in placements:
            made.extend(decide(placement, self.markets.get(placement.market_id), self.engine, now, message_ms))
        if made:
            self.push_orders(made)
        if any(p.done.is_set() for p in placements):
            self.changed.notify_all()

    # --- stream ------------------------------------------------------------------------------------

    def push_orders(self, orders: list[Order], pt: int | None = None) -> None:
        """Send order changes on every order subscription (published at pt, else now)."""
        closed = {m for m in {o.market_id for o in orders} if m in self.markets and self.markets[m].status == "CLOSED"}
        oc = order_changes(orders, closed)
        now, clk = self.now_ms() if pt is None else pt, self.clk()
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
            elif fault.kind in ("duplicate", "reorder", "late", "conflate"):
                self.message_faults.add(fault.kind, fault.count, fault.seconds)
                subs = []
            else:
                subs = []
        for sub in subs:
            sub.close()

    def _tick(self) -> None:
        """Every 50 ms: scheduled faults whose market time has come; whether the exchange is done."""
        while not self.stopping.wait(0.05):
            if self.started:
                for fault in self.faults.due(self.clock.offset()):
                    self.run_fault(fault)
            if self.finished.is_set() and not self.done.is_set():
                self._check_done(time.monotonic())

    def _check_done(self, now: float) -> None:
        """Done once the replay has ended and nobody is logged in or nobody subscribed for DONE_IDLE_SECONDS."""
        with self.lock:
            idle = not self.sessions or not self.subscribers
        if not idle:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        ended = self.finished_at if self.finished_at is not None else now
        if (idle and now - self._idle_since >= DONE_IDLE_SECONDS) or now - ended >= DONE_AFTER_SECONDS:
            logger.info(
                "exchange done: the replay has ended and %s", "its clients have gone" if idle else "120 s passed"
            )
            self.done.set()

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the fault and done clock (the replay starts with the first market subscription)."""
        thread = threading.Thread(target=self._tick, name="emulator-tick", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop replaying and close every stream connection."""
        self.stopping.set()
        with self.lock:
            subs = list(self.subscribers)
            self.subscribers.clear()
        for sub in subs:
            sub.close()
        for thread in self._threads:
            thread.join(timeout=2)
