"""Fidelity of the replay: the books a betfairlightweight client builds through the emulator, against the file's.

For every replayed message, the market books a real betfairlightweight stream client sees through the emulator
(over TLS, from a real subscription) must equal the books betfairlightweight's own stream code builds from the
recording: runners, status, inPlay, ladders to back and lay, last traded price, traded volume, the market
definition. Publish times and the times inside definitions are compared after removing the replay's shift."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import betfairlightweight
from betfairlightweight.streaming import StreamListener

from core.exchange import ExchangeEndpoint, point_at
from emulator.exchange import Exchange
from emulator.replay import DEFINITION_TIMES, Message, timeline
from emulator.replayer import publish
from emulator.server import Emulator

EXAMPLES = 5  # differences described per file
FIELDS = ("atb", "atl", "trd", "ltp", "tv", "runners", "status", "inplay", "market", "definition", "publishTime")


@dataclass
class BookCheck:
    """What differed between the emulated and the recorded books of one replay."""

    name: str
    messages: int = 0
    books: int = 0  # books streamed (one per market changed per message)
    differing: int = 0
    images: int = 0  # images compared (what a client subscribing after that message is sent)
    images_differing: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def note(self, index: int, market_id: str, what: list[str], image: bool = False) -> None:
        """Count one differing book (or image)."""
        if image:
            self.images_differing += 1
        else:
            self.differing += 1
        self.fields.update(what)
        if len(self.examples) < EXAMPLES:
            kind = "image after" if image else "book at"
            self.examples.append(f"{kind} message {index} market {market_id}: {', '.join(what)}")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _definition(definition: dict | None, shift_ms: int, memo: dict) -> dict | None:
    """A definition with its times as epoch ms less the shift, runners' removal dates too (memo: by object)."""
    if definition is None:
        return None
    key = (id(definition), shift_ms)
    if key in memo:
        return memo[key][1]
    out = {k: (_ms(v) - shift_ms if k in DEFINITION_TIMES and isinstance(v, str) else v) for k, v in definition.items()}
    out["runners"] = [
        {k: (_ms(v) - shift_ms if k == "removalDate" and isinstance(v, str) else v) for k, v in r.items()}
        for r in definition.get("runners", ())
    ]
    memo[key] = (definition, out)  # the definition is kept so its id is not reused
    return out


def normalise(book: dict, shift_ms: int, definition_shift_ms: int, memo: dict | None = None) -> dict:
    """The compared parts of a lightweight market book, times less the replay's shifts."""
    runners = {}
    for r in book["runners"]:
        key = (r["selectionId"], r["handicap"] or 0)
        runners[key] = {
            "atb": r["ex"]["availableToBack"],  # lists of {"price", "size"}: compared as they are
            "atl": r["ex"]["availableToLay"],
            "trd": r["ex"]["tradedVolume"],
            "ltp": r["lastPriceTraded"],
            "tv": r["totalMatched"],
            "runners": (r["status"], r["adjustmentFactor"], r["removalDate"] is not None),
        }
    return {
        "id": book["marketId"],
        "runners": runners,
        "order": tuple(runners),
        "status": book["status"],
        "inplay": book["inplay"],
        "market": (book["betDelay"], book["version"], book["totalMatched"], book["numberOfActiveRunners"]),
        "definition": _definition(book["marketDefinition"], definition_shift_ms, {} if memo is None else memo),
        "publishTime": book["publishTime"] - shift_ms,
    }


def differences(ours: dict, theirs: dict, ordered: bool = True) -> list[str]:
    """Names of the compared fields that differ between two normalised books (runner order too when ordered)."""
    what = [key for key in ("status", "inplay", "market", "definition", "publishTime") if ours[key] != theirs[key]]
    if (ours["order"] if ordered else set(ours["order"])) != (theirs["order"] if ordered else set(theirs["order"])):
        what.append("runners")
    if ours["runners"] == theirs["runners"]:
        return sorted(set(what))
    for key, runner in theirs["runners"].items():
        mine = ours["runners"].get(key)
        for name, value in runner.items():
            if mine is None or mine[name] != value:
                what.append(name)
    return sorted(set(what))


# what paddock's live and paper modes subscribe to (app/live.py): every field but the best-offer ladders, whose
# place a recording of best-display ladders only fills (projection.py), as betfairlightweight's own cache does
FIELDS = ["EX_ALL_OFFERS", "EX_TRADED", "EX_TRADED_VOL", "EX_LTP", "EX_MARKET_DEF", "SP_TRADED", "SP_PROJECTED"]


class _Books(StreamListener):
    """betfairlightweight's listener, keeping the raw books after every market change message."""

    def __init__(self) -> None:
        super().__init__(max_latency=None, lightweight=True)
        self.updates: list[tuple[int, list[dict]]] = []  # (publish time, books of the markets it changed)
        self.expected = 0
        self.complete = threading.Event()

    def _on_change_message(self, data: dict, unique_id: int) -> None:
        """Let betfairlightweight process the message, then snap the books it changed."""
        super()._on_change_message(data, unique_id)
        if data.get("op") == "mcm" and data.get("ct") in (None, "UPDATE") and data.get("mc"):
            caches = self.stream._caches
            self.updates.append((data["pt"], [caches[c["id"]].create_resource(0) for c in data["mc"]]))
            if len(self.updates) >= self.expected:
                self.complete.set()


def recorded_books(messages: list[Message]) -> list[list[dict]]:
    """The books betfairlightweight's stream code builds from the recording, after each message."""
    listener = StreamListener(max_latency=None, lightweight=True)
    listener.register_stream(0, "marketSubscription")
    stream = listener.stream
    out = []
    for message in messages:
        stream.on_update({"op": "mcm", "pt": message.pt, "mc": message.changes})
        out.append([stream._caches[c["id"]].create_resource(0) for c in message.changes])
    return out


def emulated_books(paths: list[str | Path], speed: float, max_gap: float | None, timeout: float) -> list[tuple]:
    """(publish time, books) after each market change message a betfairlightweight client got from the emulator."""
    with Emulator(paths, speed=speed, max_gap=max_gap) as emulator:
        trading = betfairlightweight.APIClient("bookcheck", "bookcheck", app_key="bookcheck")
        point_at(trading, ExchangeEndpoint.parse(emulator.url))
        trading.login_interactive()
        listener = _Books()
        listener.expected = len(emulator.exchange.messages)
        stream = trading.streaming.create_stream(unique_id=1, listener=listener, timeout=10)
        # as flumine does: the subscription connects and authenticates, then a thread reads
        stream.subscribe_to_markets(market_filter={}, market_data_filter={"fields": FIELDS})
        reader = threading.Thread(target=_read, args=(stream,), name="bookcheck-reader", daemon=True)
        reader.start()
        listener.complete.wait(timeout)
        stream.stop()
        reader.join(timeout=5)
        trading.logout()
        return list(listener.updates)


def _read(stream) -> None:
    try:
        stream.start()
    except betfairlightweight.exceptions.BetfairError:
        pass  # stopped, or the emulator went away: what was read so far is compared


def emulated_images(messages: list[Message], every: int) -> list[tuple[int, int, list[dict]]]:
    """(index, publish time, books) a betfairlightweight client builds from the emulator's image after a message.

    That image is what a subscription made then is sent: the exchange's own state (what it also matches on),
    replayed here without sockets, every `every` messages."""
    exchange = Exchange(messages)
    exchange.clock.start()
    out = []
    for index, message in enumerate(messages):
        publish(exchange, message)
        if index % every:
            continue
        listener = StreamListener(max_latency=None, lightweight=True)
        listener.register_stream(0, "marketSubscription")
        pt = exchange.clock.at(message.offset)
        ids = [str(c["id"]) for c in message.changes]
        listener.stream.on_update({"op": "mcm", "pt": pt, "mc": [exchange.markets[i].image() for i in ids]})
        out.append((index, pt, [listener.stream._caches[i].create_resource(0) for i in ids]))
    return out


def check(
    paths: list[str | Path],
    speed: float = 2000.0,
    max_gap: float | None = 1.0,
    name: str | None = None,
    image_every: int = 1,
) -> BookCheck:
    """Replay the recordings through the emulator and compare every book with betfairlightweight's from the file.

    Also the image a late subscriber would get after every `image_every`-th message (0: none)."""
    messages = timeline(paths, max_gap)
    result = BookCheck(name or ", ".join(Path(p).name for p in paths), messages=len(messages))
    timeout = messages[-1].offset / speed + 30.0
    got = emulated_books(paths, speed, max_gap, timeout)
    want = recorded_books(messages)
    start = got[0][0] if got else 0
    shifts = _shifts(messages, start)
    memo: dict = {}
    for index, books in enumerate(want):
        result.books += len(books)
        if index >= len(got):
            for book in books:
                result.note(index, book["marketId"], ["missing"])
            continue
        _compare(result, index, books, got[index][1], shifts[index], memo)
    if image_every:
        images = emulated_images(messages, image_every)
        start = images[0][1] if images else 0
        shifts = _shifts(messages, start)
        for index, _, books in images:
            result.images += len(books)
            _compare(result, index, want[index], books, shifts[index], memo, image=True)
    return result


def _shifts(messages: list[Message], start: int) -> list[tuple[int, dict[str, int]]]:
    """Per message: the shift of its publish time, and of each market's latest definition."""
    out = []
    definition_shift: dict[str, int] = {}
    for message in messages:
        shift = start + message.ms - message.pt
        for change in message.changes:
            if "marketDefinition" in change:
                definition_shift[str(change["id"])] = shift
        out.append((shift, dict(definition_shift)))
    return out


def _compare(
    result: BookCheck, index: int, want: list[dict], got: list[dict], shifts: tuple, memo: dict, image: bool = False
) -> None:
    """Note the books of one message that differ. An image's runners come in its definition's order (a fresh
    cache), the stream's in the order they first appeared: for images only the set of runners is compared."""
    shift, definition_shift = shifts
    ours = {b["marketId"]: b for b in got}
    for book in want:
        market_id = book["marketId"]
        mine = ours.get(market_id)
        if mine is None:
            result.note(index, market_id, ["missing"], image)
            continue
        mine = normalise(mine, shift, definition_shift.get(market_id, shift), memo)
        what = differences(mine, normalise(book, 0, 0, memo), ordered=not image)
        if what:
            result.note(index, market_id, what, image)
