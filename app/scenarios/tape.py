"""Market feeds that emit Betfair stream deltas, and a tape that writes them as a recording."""

from __future__ import annotations

import bisect
import bz2
import datetime as dt
import gzip
import io
import json
import math
from pathlib import Path

from flumine.utils import PRICES_FLOAT

MIN_ODDS, MAX_ODDS = PRICES_FLOAT[0], PRICES_FLOAT[-1]


def iso(ms: int) -> str:
    """Betfair's timestamp format for an epoch time in ms."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def back_lay_ladder(probability: float, depth: int, sizes: list[float], lay_sizes: list[float]):
    """A one-tick-spread ladder around fair odds 1/probability: (atb levels, atl levels)."""
    odds = min(max(1.0 / max(probability, 1e-9), MIN_ODDS), MAX_ODDS)
    i = bisect.bisect_right(PRICES_FLOAT, odds + 1e-9) - 1  # best back: the tick at or below fair odds
    i = min(max(i, 0), len(PRICES_FLOAT) - 2)
    atb = [(PRICES_FLOAT[i - k], round(sizes[k], 2)) for k in range(depth) if i - k >= 0]
    atl = [(PRICES_FLOAT[i + 1 + k], round(lay_sizes[k], 2)) for k in range(depth) if i + 1 + k < len(PRICES_FLOAT)]
    return atb, atl


class MarketFeed:
    """One market's state; each change is kept as a delta until flushed into a stream message."""

    def __init__(self, market_id: str, definition: dict) -> None:
        self.market_id = market_id
        self.definition = definition
        self.ladders: dict[int, dict[str, dict[float, float]]] = {
            r["id"]: {"atb": {}, "atl": {}} for r in definition["runners"]
        }
        self.traded: dict[int, dict[float, float]] = {r["id"]: {} for r in definition["runners"]}
        self._delta: dict[int, dict] = {}
        self._definition_changed = False

    @property
    def runner_ids(self) -> list[int]:
        """Selection ids in sort order."""
        return [r["id"] for r in self.definition["runners"]]

    def runner(self, selection_id: int) -> dict:
        """The runner entry of the market definition."""
        return next(r for r in self.definition["runners"] if r["id"] == selection_id)

    def update_definition(self, **changes) -> None:
        """Change market definition fields (the version goes up)."""
        self.definition.update(changes)
        self.definition["version"] += 1
        self._definition_changed = True

    def touch_definition(self) -> None:
        """Mark the definition changed after editing runner entries in place."""
        self.definition["version"] += 1
        self._definition_changed = True

    def set_ladder(self, selection_id: int, atb: list[tuple[float, float]], atl: list[tuple[float, float]]) -> None:
        """Replace a runner's available-to-back and available-to-lay levels."""
        delta = self._delta.setdefault(selection_id, {})
        for side, levels in (("atb", atb), ("atl", atl)):
            book = self.ladders[selection_id][side]
            new = dict(levels)
            changes = [[p, 0] for p in book if p not in new] + [[p, s] for p, s in levels if book.get(p) != s]
            if changes:
                merged = {p: s for p, s in delta.get(side, [])}
                merged.update({p: s for p, s in changes})
                delta[side] = sorted([[p, s] for p, s in merged.items()])
            self.ladders[selection_id][side] = new

    def trade(self, selection_id: int, price: float, volume: float) -> None:
        """Record matched volume at a price (traded ladder, last traded price, runner total)."""
        traded = self.traded[selection_id]
        traded[price] = round(traded.get(price, 0.0) + volume, 2)
        delta = self._delta.setdefault(selection_id, {})
        trd = {p: v for p, v in delta.get("trd", [])}
        trd[price] = traded[price]
        delta["trd"] = sorted([[p, v] for p, v in trd.items()])
        delta["ltp"] = price
        delta["tv"] = round(sum(traded.values()), 2)

    def total_volume(self) -> float:
        """Matched volume of the whole market."""
        return round(sum(sum(t.values()) for t in self.traded.values()), 2)

    def image(self) -> dict:
        """A full image of the market (img true), as the first message of a recording."""
        rc = []
        for sid in self.runner_ids:
            entry = {"id": sid}
            atb, atl = self.ladders[sid]["atb"], self.ladders[sid]["atl"]
            if atb:
                entry["atb"] = sorted([[p, s] for p, s in atb.items()])
            if atl:
                entry["atl"] = sorted([[p, s] for p, s in atl.items()])
            if self.traded[sid]:
                entry["trd"] = sorted([[p, v] for p, v in self.traded[sid].items()])
                entry["tv"] = round(sum(self.traded[sid].values()), 2)
            rc.append(entry)
        self._delta.clear()
        self._definition_changed = False
        return {
            "id": self.market_id,
            "marketDefinition": json.loads(json.dumps(self.definition)),
            "rc": rc,
            "img": True,
            "tv": self.total_volume(),
        }

    def flush(self) -> dict | None:
        """The market change accumulated since the last flush, or None."""
        if not self._delta and not self._definition_changed:
            return None
        change: dict = {"id": self.market_id}
        if self._definition_changed:
            change["marketDefinition"] = json.loads(json.dumps(self.definition))
        if self._delta:
            change["rc"] = [{"id": sid, **d} for sid, d in sorted(self._delta.items()) if d]
            if any("trd" in d for d in self._delta.values()):
                change["tv"] = self.total_volume()
        self._delta.clear()
        self._definition_changed = False
        return change


class Tape:
    """Stream messages in publish-time order, written as one recording (plain, .gz or .bz2)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._clk = 0
        self._last_pt = 0

    def emit(self, pt: int, changes: list[dict]) -> None:
        """Append one mcm message; publish times must not go backwards."""
        changes = [c for c in changes if c]
        if not changes:
            return
        if pt < self._last_pt:
            raise ValueError(f"publish time went backwards: {pt} < {self._last_pt}")
        self._last_pt = pt
        self._clk += 1
        message = {"op": "mcm", "clk": str(self._clk), "pt": pt, "mc": changes}
        self.lines.append(json.dumps(message, separators=(",", ":")))

    def data(self) -> bytes:
        """The recording's text as bytes."""
        return ("\n".join(self.lines) + "\n").encode()

    def write(self, path: Path) -> Path:
        """Write the recording; compression follows the suffix and the bytes depend only on the content."""
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = self.data()
        if path.suffix == ".gz":
            buf = io.BytesIO()
            with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
                gz.write(raw)
            raw = buf.getvalue()
        elif path.suffix == ".bz2":
            raw = bz2.compress(raw)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(raw)
        tmp.replace(path)
        return path


def market_definition(
    *,
    event_id: str,
    event_name: str,
    event_type_id: str,
    market_type: str,
    name: str,
    market_time_ms: int,
    runners: list[tuple[int, str]],
    number_of_winners: int,
    country_code: str,
    venue: str | None = None,
) -> dict:
    """A streaming market definition with Betfair's fields, OPEN and pre-race."""
    definition = {
        "bspMarket": False,
        "turnInPlayEnabled": True,
        "persistenceEnabled": True,
        "marketBaseRate": 5.0,
        "eventId": event_id,
        "eventTypeId": event_type_id,
        "numberOfWinners": number_of_winners,
        "bettingType": "ODDS",
        "marketType": market_type,
        "marketTime": iso(market_time_ms),
        "suspendTime": iso(market_time_ms),
        "bspReconciled": False,
        "complete": True,
        "inPlay": False,
        "crossMatching": True,
        "runnersVoidable": False,
        "numberOfActiveRunners": len(runners),
        "betDelay": 0,
        "status": "OPEN",
        "runners": [
            {"status": "ACTIVE", "sortPriority": i + 1, "id": sid, "name": runner_name}
            for i, (sid, runner_name) in enumerate(runners)
        ],
        "regulators": ["MR_INT"],
        "countryCode": country_code,
        "discountAllowed": True,
        "timezone": "Europe/London",
        "openDate": iso(market_time_ms),
        "version": 1,
        "name": name,
        "eventName": event_name,
    }
    if venue:
        definition["venue"] = venue
    return definition


def quote(feed: MarketFeed, probabilities: dict[int, float], rng, liquidity: float) -> None:
    """Set every active runner's ladder around its fair odds, with random sizes."""
    for sid, p in probabilities.items():
        sizes = list(rng.lognormal(mean=math.log(liquidity), sigma=0.6, size=3))
        lay_sizes = list(rng.lognormal(mean=math.log(liquidity), sigma=0.6, size=3))
        atb, atl = back_lay_ladder(p, 3, sizes, lay_sizes)
        feed.set_ladder(sid, atb, atl)


def trade_some(feed: MarketFeed, rng, volume: float, runners: list[int] | None = None) -> None:
    """Match some volume on a random runner at its best back or lay price."""
    runners = runners or feed.runner_ids
    sid = int(rng.choice(runners))
    ladder = feed.ladders[sid]
    side = "atb" if rng.random() < 0.5 else "atl"
    levels = ladder[side] or ladder["atb"] or ladder["atl"]
    if not levels:
        return
    price = max(levels) if side == "atb" else min(levels)
    feed.trade(sid, price, round(float(rng.uniform(0.2, 1.0) * volume), 2))
