"""One market's state in the stream's own raw format: definition, runner ladders, images and deltas applied."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

PRICE_LADDERS = ("atb", "atl", "trd", "spb", "spl")  # [price, size] with size 0 removing the price
LEVEL_LADDERS = ("batb", "batl", "bdatb", "bdatl")  # [level, price, size] with size 0 removing the level
SCALARS = ("ltp", "tv", "spn", "spf")


@dataclass
class RunnerState:
    """Ladders and scalars of one runner."""

    selection_id: int
    handicap: float = 0.0
    prices: dict[str, dict[float, float]] = field(default_factory=lambda: {k: {} for k in PRICE_LADDERS})
    levels: dict[str, dict[int, tuple[float, float]]] = field(default_factory=lambda: {k: {} for k in LEVEL_LADDERS})
    scalars: dict[str, float] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget every ladder and scalar (the runner is about to be sent whole)."""
        for ladder in self.prices.values():
            ladder.clear()
        for ladder in self.levels.values():
            ladder.clear()
        self.scalars.clear()

    def apply(self, change: dict) -> None:
        """Apply one rc entry (entries of one runner in one message add up)."""
        if "trd" in change and not change["trd"]:
            self.prices["trd"].clear()  # an empty traded ladder clears it, as betfairlightweight reads it
        for key in PRICE_LADDERS:
            for price, size in change.get(key) or ():
                if size == 0:
                    self.prices[key].pop(price, None)
                else:
                    self.prices[key][price] = size
        for key in LEVEL_LADDERS:
            for level, price, size in change.get(key) or ():
                if size == 0:
                    self.levels[key].pop(level, None)
                else:
                    self.levels[key][level] = (price, size)
        for key in SCALARS:
            if key in change:
                self.scalars[key] = change[key]

    def available(self, key: str) -> dict[float, float]:
        """Offers of one side: 'atb' (backers take these) or 'atl' (layers take these), from either ladder form."""
        ladder = self.prices[key]
        if ladder:
            return ladder
        best = self.levels["b" + key] or self.levels["bd" + key]
        return {price: size for price, size in best.values()}

    def image(self) -> dict:
        """This runner as a full rc entry."""
        rc: dict = {"id": self.selection_id}
        if self.handicap:
            rc["hc"] = self.handicap
        for key, ladder in self.prices.items():
            if ladder:
                rc[key] = [[p, s] for p, s in sorted(ladder.items())]
        for key, levels in self.levels.items():
            if levels:
                rc[key] = [[lvl, p, s] for lvl, (p, s) in sorted(levels.items())]
        rc.update(self.scalars)
        return rc


@dataclass
class MarketState:
    """A market as the stream has described it so far."""

    market_id: str
    definition: dict = field(default_factory=dict)
    runners: dict[tuple[int, float], RunnerState] = field(default_factory=dict)
    tv: float | None = None

    @property
    def status(self) -> str:
        """OPEN, SUSPENDED or CLOSED."""
        return self.definition.get("status", "OPEN")

    @property
    def in_play(self) -> bool:
        """The definition's inPlay flag."""
        return bool(self.definition.get("inPlay"))

    @property
    def bet_delay(self) -> float:
        """Seconds an in-play order waits before it reaches the book."""
        return float(self.definition.get("betDelay") or 0) if self.in_play else 0.0

    @property
    def event_id(self) -> str:
        """The definition's event id."""
        return str(self.definition.get("eventId", ""))

    def runner(self, selection_id: int, handicap: float = 0.0, create: bool = False) -> RunnerState:
        """The runner's state; an empty one when unknown (kept only with create, as the stream first sends it)."""
        key = (int(selection_id), float(handicap or 0.0))
        state = self.runners.get(key)
        if state is None:
            state = RunnerState(int(selection_id), float(handicap or 0.0))
            if create:
                self.runners[key] = state
        return state

    def removed(self) -> dict[int, float]:
        """Removed runners (non-runners) and their adjustment factors (0 when the definition gives none)."""
        return {
            int(r["id"]): float(r.get("adjustmentFactor") or 0.0)
            for r in self.definition.get("runners", ())
            if r.get("status") == "REMOVED"
        }

    def runner_status(self, selection_id: int) -> str:
        """ACTIVE, WINNER, LOSER, REMOVED ... from the definition."""
        for runner in self.definition.get("runners", ()):
            if int(runner["id"]) == int(selection_id):
                return runner.get("status", "ACTIVE")
        return "ACTIVE"

    def apply(self, change: dict) -> dict[tuple[int, float], dict[float, float]]:
        """Apply one mc entry; returns traded volume added per runner and price.

        A full image (img) may send one runner over several rc entries: its ladders are cleared once,
        at its first entry, and the entries add up."""
        image = bool(change.get("img"))
        if "marketDefinition" in change:
            self.definition = copy.deepcopy(change["marketDefinition"])
        if image:
            self.tv = None
        if "tv" in change:
            self.tv = change["tv"]
        before: dict[tuple[int, float], dict[float, float]] = {}  # traded ladders before this change
        for rc in change.get("rc") or ():
            runner = self.runner(rc["id"], rc.get("hc", 0.0), create=True)
            key = (runner.selection_id, runner.handicap)
            if key not in before:
                before[key] = dict(runner.prices["trd"])
                if image:
                    runner.clear()
            runner.apply(rc)
        if image:
            for key in [k for k in self.runners if k not in before]:
                del self.runners[key]
        traded = {}
        for key, old in before.items():
            added = {}
            for price, size in self.runners[key].prices["trd"].items():
                more = round(size - old.get(price, 0.0), 2)
                if more > 0:
                    added[price] = more
            if added:
                traded[key] = added
        return traded

    def image(self) -> dict:
        """The whole market as one mc entry with img true."""
        mc: dict = {"id": self.market_id, "img": True}
        if self.definition:
            mc["marketDefinition"] = copy.deepcopy(self.definition)
        mc["rc"] = [r.image() for r in self.runners.values()]
        if self.tv is not None:
            mc["tv"] = self.tv
        return mc
