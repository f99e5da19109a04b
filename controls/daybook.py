"""Today's realised P&L and cooldowns, kept in the data directory so that a restart does not start the day again."""

from __future__ import annotations

import datetime as dt
import logging

from controls.store import MemoryStore, StateStore
from core.clock import Clock
from core.errors import UserError

logger = logging.getLogger("paddock.daybook")


def day_of(epoch: float) -> str:
    """The trading day of a time: its UTC date."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date().isoformat()


class DayBook:
    """What a restart must inherit for the day: settled P&L per market and the cooldown of each runner.

    Restored at start for the clock's day only; a file that cannot be read is `damage` (the layer fails closed)."""

    def __init__(self, clock: Clock, store: StateStore | None = None) -> None:
        self.clock = clock
        self.store = store or MemoryStore()
        self.damage: str | None = None
        self.settled: dict[str, float] = {}  # market id -> realised P&L, today
        self.cooldowns: dict[tuple[str, int], float] = {}  # (market, selection) -> time of the last order
        self._saved: object = None
        self._restore()

    def _restore(self) -> None:
        try:
            data = self.store.load() or {}
            if data.get("day") != day_of(self.clock.now()):
                return
            settled = {str(m): float(v) for m, v in data.get("settled", {}).items()}
            cooldowns = {}
            for key, at in data.get("cooldowns", {}).items():
                market_id, selection_id = key.rsplit("|", 1)
                cooldowns[(market_id, int(selection_id))] = float(at)
        except Exception as exc:  # noqa: BLE001 - anything unreadable: the layer halts
            self.damage = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            logger.error("today's P&L and cooldowns cannot be read: %s", self.damage)
            return
        self.settled, self.cooldowns = settled, cooldowns
        if settled or cooldowns:
            logger.warning(
                "restored today's %s settled market(s) (P&L %.2f) and %s cooldown(s)",
                len(settled),
                sum(settled.values()),
                len(cooldowns),
            )

    def save(self) -> None:
        """Write the day's state if it changed since the last save (cheap to call on every tick)."""
        snapshot = (tuple(sorted(self.settled.items())), tuple(sorted(self.cooldowns.items())))
        if snapshot == self._saved or self.damage:
            return
        data = {
            "day": day_of(self.clock.now()),
            "settled": dict(self.settled),
            "cooldowns": {f"{m}|{s}": at for (m, s), at in self.cooldowns.items()},
        }
        self.store.update(lambda _old: data)
        self._saved = snapshot
