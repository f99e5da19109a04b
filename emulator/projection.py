"""What one market subscription is sent: only the fields its marketDataFilter asks for, at its ladderLevels.

Without a marketDataFilter (or without fields) the recording goes out as it was recorded. With one, each runner is
projected onto the requested fields and each message carries what changed since the last one sent (an image resets
it), so a ladder the recording lacks can be derived:
- best offers (`batb`/`batl`) and best display (`bdatb`/`bdatl`) from full ladders: their best `ladderLevels` prices,
  as Betfair defines them (best display without the virtual bets Betfair adds, which a recording does not hold);
- full ladders (`atb`/`atl`) from best display, else best offers: an APPROXIMATION, the depth the recording has. It
  is what betfairlightweight's own cache shows for such a recording (availableToBack falls back to best display),
  so a book built from either is the same. The emulator announces it at start and in the subscription's status."""

from __future__ import annotations

from emulator.book import MarketState, RunnerState

FIELDS = {
    "EX_ALL_OFFERS": ("atb", "atl"),
    "EX_BEST_OFFERS": ("batb", "batl"),
    "EX_BEST_OFFERS_DISP": ("bdatb", "bdatl"),
    "EX_TRADED": ("trd",),
    "EX_TRADED_VOL": ("tv",),
    "EX_LTP": ("ltp",),
    "SP_TRADED": ("spb", "spl"),
    "SP_PROJECTED": ("spn", "spf"),
    "EX_MARKET_DEF": ("marketDefinition",),
}
PRICES = ("atb", "atl", "trd", "spb", "spl")
LEVELS = ("batb", "batl", "bdatb", "bdatl")
SCALARS = ("ltp", "tv", "spn", "spf")
MAX_LEVELS = 10  # Betfair's bounds for ladderLevels are 1 to 10; absent, the subscriber gets up to 10
FULL_FROM = {"atb": ("bdatb", "batb"), "atl": ("bdatl", "batl")}  # betfairlightweight's fallback order

View = dict[str, dict]  # ladder or scalar name -> {price: size} | {level: (price, size)} | {"": value}


def approximated(recorded: set[str]) -> list[str]:
    """The full ladders that may be approximated in a recording with these runner fields: those it has best offers
    for (wherever a runner's full ladder is missing, the best ones stand in)."""
    return [side for side, best in FULL_FROM.items() if any(b in recorded for b in best)]


def approximation(recorded: dict[str, set[str]]) -> str:
    """What is approximated for full-ladder subscribers of markets whose recordings hold these runner fields ("" if
    nothing is): said at start and in such a subscription's status."""
    markets = sorted(market_id for market_id, fields in recorded.items() if approximated(fields))
    if not markets:
        return ""
    return (
        f"approximated: EX_ALL_OFFERS of market(s) {', '.join(markets)}: where a runner's full ladder is not recorded,"
        " its best-display one (the depth recorded)"
    )


class Projection:
    """One market subscription's marketDataFilter, and what it has sent of each market so far."""

    def __init__(self, data_filter: dict | None) -> None:
        data_filter = data_filter or {}
        names = data_filter.get("fields")
        self.keys: set[str] | None = None
        if names:
            self.keys = {key for name in names for key in FIELDS.get(name, ())}
        self.levels = min(max(int(data_filter.get("ladderLevels") or MAX_LEVELS), 1), MAX_LEVELS)
        self.sent: dict[str, dict[tuple[int, float], View]] = {}

    @property
    def as_recorded(self) -> bool:
        """Whether the recording goes out as it is (no fields asked for)."""
        return self.keys is None

    def image(self, market: MarketState) -> dict:
        """The whole market as this subscription sees it (img true)."""
        if self.keys is None:
            return market.image()
        views = {key: self._view(r) for key, r in market.runners.items()}
        self.sent[market.market_id] = views
        mc: dict = {"id": market.market_id, "img": True}
        if "marketDefinition" in self.keys and market.definition:
            mc["marketDefinition"] = dict(market.definition)
        mc["rc"] = [_rc(r, _delta({}, views[key])) for key, r in market.runners.items()]
        if "tv" in self.keys and market.tv is not None:
            mc["tv"] = market.tv
        return mc

    def change(self, market: MarketState, change: dict) -> dict:
        """What this subscription is sent of one replayed mc entry: the market's id alone when nothing it asked for
        changed, so the message still goes out and publish times move as in the recording."""
        if self.keys is None:
            return change
        if change.get("img") or market.market_id not in self.sent:
            return self.image(market)
        sent = self.sent[market.market_id]
        mc: dict = {"id": market.market_id}
        if "marketDefinition" in self.keys and "marketDefinition" in change:
            mc["marketDefinition"] = change["marketDefinition"]
        rcs = []
        for rc in change.get("rc") or ():
            runner = market.runner(rc["id"], rc.get("hc", 0.0))
            key = (runner.selection_id, runner.handicap)
            view = self._view(runner)
            delta = _delta(sent.get(key, {}), view)
            sent[key] = view
            if delta:
                rcs.append(_rc(runner, delta))
        if rcs:
            mc["rc"] = rcs
        if "tv" in self.keys and "tv" in change:
            mc["tv"] = change["tv"]
        return mc

    def _view(self, runner: RunnerState) -> View:
        keys = self.keys or set()
        view: View = {}
        for side in ("atb", "atl"):
            full = _full(runner, side)
            if side in keys:
                view[side] = full
            for best in ("b" + side, "bd" + side):
                if best in keys:
                    recorded = runner.levels[best]
                    view[best] = (
                        {lvl: ps for lvl, ps in recorded.items() if lvl < self.levels}
                        if recorded
                        else _top(full, side, self.levels)
                    )
        for key in ("trd", "spb", "spl"):
            if key in keys:
                view[key] = dict(runner.prices[key])
        for key in SCALARS:
            if key in keys and key in runner.scalars:
                view[key] = {"": runner.scalars[key]}
        return view


def _full(runner: RunnerState, side: str) -> dict[float, float]:
    """A side's full ladder: the recorded one, else best display, else best offers (the approximation)."""
    if runner.prices[side]:
        return dict(runner.prices[side])
    for best in FULL_FROM[side]:
        if runner.levels[best]:
            return {price: size for price, size in runner.levels[best].values()}
    return {}


def _top(full: dict[float, float], side: str, levels: int) -> dict[int, tuple[float, float]]:
    """The best `levels` prices of a full ladder as depth levels (backs best highest, lays best lowest)."""
    prices = sorted(full, reverse=side == "atb")[:levels]
    return {level: (price, full[price]) for level, price in enumerate(prices)}


def _delta(old: View, new: View) -> dict:
    """The rc fields that turn `old` into `new`: changed entries, and removals as size 0 (an empty trd clears)."""
    out: dict = {}
    for key, ladder in new.items():
        before = old.get(key, {})
        if key in SCALARS:
            if before != ladder:
                out[key] = ladder[""]
        elif key in LEVELS:
            changed = [[lvl, p, s] for lvl, (p, s) in sorted(ladder.items()) if before.get(lvl) != (p, s)]
            changed += [[lvl, 0, 0] for lvl in sorted(before) if lvl not in ladder]
            if changed:
                out[key] = changed
        elif key == "trd" and before and not ladder:
            out[key] = []
        else:
            changed = [[p, s] for p, s in sorted(ladder.items()) if before.get(p) != s]
            changed += [[p, 0] for p in sorted(before) if p not in ladder]
            if changed or (not old and ladder):
                out[key] = changed
    return out


def _rc(runner: RunnerState, fields: dict) -> dict:
    rc: dict = {"id": runner.selection_id}
    if runner.handicap:
        rc["hc"] = runner.handicap
    return rc | fields
