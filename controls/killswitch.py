"""The kill switch: trading states ACTIVE / REDUCING / HALTED, durable, tripped by triggers or by hand."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flumine.controls import BaseControl
from flumine.order.orderpackage import OrderPackageType

from controls.store import MemoryStore, StateStore
from core.alerts import AlertHook, LogAlerts
from core.clock import Clock
from core.errors import UserError
from core.positions import Positions, is_hedge, positions, reduces_exposure

logger = logging.getLogger("paddock.killswitch")


class TradingState(StrEnum):
    """What new orders may do: anything, only reduce exposure, or nothing."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


@dataclass(frozen=True)
class Change:
    """One entry of the kill switch history."""

    at: float
    action: str  # "trip" or "reset"
    state: TradingState
    reason: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form, with a readable UTC time."""
        iso = dt.datetime.fromtimestamp(self.at, dt.UTC).isoformat(timespec="milliseconds")
        return {"at": self.at, "time": iso, "action": self.action, "state": str(self.state),
                "reason": self.reason, "source": self.source}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        """Read a stored entry."""
        return cls(float(d["at"]), d["action"], TradingState(d["state"]), d.get("reason", ""), d.get("source", ""))


class KillSwitch:
    """The trading state and its history, kept in a store so that it survives a restart; reset is manual."""

    def __init__(self, clock: Clock, store: StateStore | None = None, alerts: AlertHook | None = None) -> None:
        self.clock = clock
        self.store = store or MemoryStore()
        self.alerts = alerts or LogAlerts()
        self._listeners: list[Callable[[Change], None]] = []
        self.change_listeners: list[Callable[[Change], None]] = []  # every trip and reset, here or from elsewhere
        self._state = TradingState.ACTIVE
        self.history: list[Change] = []
        self.damage: str | None = None  # why the stored state could not be read (the switch is HALTED then)
        self._version: object = None
        self._load()

    def _load(self) -> None:
        version = self.store.version()
        try:
            data = self.store.load() or {}
            state = TradingState(data.get("state", TradingState.ACTIVE))
            history = [Change.from_dict(d) for d in data.get("history", [])]
        except Exception as exc:  # noqa: BLE001 - anything that does not read as a state fails closed
            self._damaged(str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}", version)
            return
        self._state, self.history, self._version, self.damage = state, history, version, None

    def _damaged(self, why: str, version: object) -> None:
        """The stored state is unreadable: HALTED, said once (with an alert) until it changes again."""
        self._version = version
        if self.damage == why:
            return
        self.damage = why
        self._state = TradingState.HALTED
        change = Change(self.clock.now(), "trip", TradingState.HALTED, f"kill switch state unreadable: {why}", "state")
        self.history = [*self.history, change]
        logger.error("kill switch HALTED: its stored state cannot be read (%s); `kill-switch reset` rewrites it", why)
        self.alerts.send("kill switch HALTED", change.reason)
        self._notify(change)

    @property
    def state(self) -> TradingState:
        """The current trading state."""
        return self._state

    @property
    def reason(self) -> str:
        """Why the switch is in its current state ('' when ACTIVE and never tripped)."""
        return self.history[-1].reason if self.history else ""

    def on_trip(self, callback: Callable[[Change], None]) -> None:
        """Call back on every trip (here or, via refresh, from another process)."""
        self._listeners.append(callback)

    def trip(self, reason: str, source: str = "manual", state: TradingState = TradingState.HALTED) -> bool:
        """Move to a stricter state; returns False when already there or stricter."""
        if _RANK[state] <= _RANK[self._state]:
            return False
        change = Change(self.clock.now(), "trip", state, reason, source)
        self._write(change)
        logger.error("kill switch %s by %s: %s", state, source, reason)
        self.alerts.send(f"kill switch {state}", f"{source}: {reason}")
        self._notify(change)
        return True

    def reset(self, reason: str = "", source: str = "manual") -> None:
        """Back to ACTIVE (the only way out of REDUCING or HALTED); recorded in the history."""
        change = Change(self.clock.now(), "reset", TradingState.ACTIVE, reason or "reset", source)
        self._write(change)
        logger.warning("kill switch reset by %s: %s", source, change.reason)

    def refresh(self) -> bool:
        """Re-read the store if another process changed it; runs trip callbacks when it tripped there."""
        version = self.store.version()
        if version == self._version:
            return False
        before, known = self._state, len(self.history)
        self._load()
        for change in self.history[known:]:
            self._changed(change)
        if _RANK[self._state] > _RANK[before] and self.history:
            logger.error("kill switch %s (set elsewhere): %s", self._state, self.reason)
            self._notify(self.history[-1])
        return True

    def _write(self, change: Change) -> None:
        if self.damage is not None:  # keep what was found, then start a readable file from what is known
            kept = self.store.quarantine()
            logger.warning("kill switch state was unreadable (%s)%s", self.damage, f"; kept as {kept}" if kept else "")
        known = [c.as_dict() for c in self.history]

        def apply(data: dict[str, Any] | None) -> dict[str, Any]:
            history = list(data.get("history", [])) if data else known
            history.append(change.as_dict())
            return {"state": str(change.state), "history": history}

        data = self.store.update(apply)
        self.damage = None
        self._state = TradingState(data["state"])
        self.history = [Change.from_dict(d) for d in data["history"]]
        self._version = self.store.version()
        self._changed(change)

    def _changed(self, change: Change) -> None:
        for callback in self.change_listeners:
            try:
                callback(change)
            except Exception:
                logger.exception("kill switch: change listener %r failed", callback)

    def _notify(self, change: Change) -> None:
        for callback in self._listeners:
            try:
                callback(change)
            except Exception:
                logger.exception("kill switch: trip callback %r failed", callback)


class KillSwitchControl(BaseControl):
    """The one choke point every new order passes: refuses what the trading state does not allow."""

    NAME = "KILL_SWITCH"

    def __init__(
        self, flumine, kill_switch: KillSwitch, positions_of: Callable[[object], Positions] = positions
    ) -> None:
        super().__init__(flumine)
        self.kill_switch = kill_switch
        self.positions_of = positions_of  # a market -> the positions of all its orders

    def _validate(self, order, package_type: OrderPackageType) -> None:
        if package_type not in (OrderPackageType.PLACE, OrderPackageType.REPLACE):
            return  # cancels and updates always pass
        state = self.kill_switch.state
        if state is TradingState.ACTIVE or is_hedge(order):
            return
        if state is TradingState.HALTED:
            self._on_error(order, f"kill switch HALTED ({self.kill_switch.reason}): no new orders")
        market = self.flumine.markets.markets.get(order.market_id)
        if package_type is OrderPackageType.REPLACE or market is None:
            self._on_error(order, f"kill switch REDUCING ({self.kill_switch.reason}): only exposure-reducing orders")
        if order.id in market.blotter:  # flumine checks an order before its blotter holds it
            held = positions(market, [o for o in market.blotter if o is not order])
        else:
            held = self.positions_of(market)
        if not reduces_exposure(held, order):
            self._on_error(order, f"kill switch REDUCING ({self.kill_switch.reason}): order does not reduce exposure")
