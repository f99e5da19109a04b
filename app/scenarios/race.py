"""Horse race scenario: WIN and PLACE markets with pre-race drift, a non-runner, in-play and result."""

from __future__ import annotations

import itertools

import numpy as np

from app.scenarios.tape import MarketFeed, Tape, iso, market_definition, quote, trade_some

OFF_MS = 1767362400000  # 2026-01-02T14:00:00Z
MINUTE = 60_000
PLACES = 3


def softmax(strengths: dict[int, float]) -> dict[int, float]:
    """Win probabilities from runner strengths."""
    ids = list(strengths)
    x = np.array([strengths[i] for i in ids])
    e = np.exp(x - x.max())
    p = e / e.sum()
    return {i: float(v) for i, v in zip(ids, p, strict=True)}


def place_probabilities(win: dict[int, float], places: int = PLACES) -> dict[int, float]:
    """Probability of finishing in the first `places` (Harville's model)."""
    ids = list(win)
    out = {i: 0.0 for i in ids}
    places = min(places, len(ids))
    for order in itertools.permutations(ids, places):
        p, left = 1.0, 1.0
        for runner in order:
            p *= win[runner] / left
            left -= win[runner]
        for runner in order:
            out[runner] += p
    return out


def generate_race(seed: int = 1) -> Tape:
    """A recording of one race (seeded): WIN and PLACE markets, a non-runner, in-play and settlement."""
    rng = np.random.default_rng(seed)
    n = 8
    ids = [int(20_000_000 + seed * 100 + k) for k in range(n)]
    names = [f"Runner {chr(65 + k)} {seed}" for k in range(n)]
    strengths = {sid: float(rng.normal(0.0, 0.8)) for sid in ids}
    event_id = str(36000000 + seed)
    common = dict(
        event_id=event_id,
        event_name=f"Generated Park {seed}",
        event_type_id="7",
        market_time_ms=OFF_MS,
        runners=list(zip(ids, names, strict=True)),
        country_code="GB",
        venue="Generated Park",
    )
    win = MarketFeed(
        f"1.{260000000 + seed * 10 + 1}",
        market_definition(market_type="WIN", name="1m2f Hcap", number_of_winners=1, **common),
    )
    place = MarketFeed(
        f"1.{260000000 + seed * 10 + 2}",
        market_definition(market_type="PLACE", name="To Be Placed", number_of_winners=PLACES, **common),
    )
    feeds = (win, place)
    removed: set[int] = set()

    def active() -> dict[int, float]:
        return {sid: s for sid, s in strengths.items() if sid not in removed}

    def reprice(liquidity: float) -> None:
        p_win = softmax(active())
        quote(win, p_win, rng, liquidity)
        quote(place, place_probabilities(p_win), rng, liquidity)

    tape = Tape()
    t = OFF_MS - 15 * MINUTE
    reprice(50.0)
    tape.emit(t, [f.image() for f in feeds])

    def emit_both(pt: int) -> int:
        tape.emit(pt, [win.flush()])
        pt2 = pt + int(rng.integers(5, 60))
        tape.emit(pt2, [place.flush()])
        return pt2

    non_runner_at = OFF_MS - int(rng.uniform(6, 10) * MINUTE)
    non_runner_done = False
    while t < OFF_MS - 2_000:
        t += int(rng.uniform(1_500, 4_000))
        if not non_runner_done and t >= non_runner_at:
            non_runner_done = True
            p_win = softmax(active())
            favourite = max(p_win, key=p_win.get)
            candidates = [sid for sid in p_win if sid != favourite]
            nr = int(rng.choice(candidates))
            for feed in feeds:
                feed.update_definition(status="SUSPENDED")
            t = emit_both(t)
            t += int(rng.uniform(15_000, 40_000))
            removed.add(nr)
            p_after = softmax(active())
            for feed in feeds:
                for runner in feed.definition["runners"]:
                    if runner["id"] == nr:
                        runner.update(status="REMOVED", adjustmentFactor=round(p_win[nr] * 100, 2), removalDate=iso(t))
                        feed.set_ladder(nr, [], [])
                    elif runner["id"] in p_after:
                        runner["adjustmentFactor"] = round(p_after[runner["id"]] * 100, 2)
                feed.update_definition(status="OPEN", numberOfActiveRunners=n - 1)
            reprice(60.0)
            t = emit_both(t)
            continue
        for sid in strengths:
            strengths[sid] += float(rng.normal(0.0, 0.03))
        reprice(60.0 + 200.0 * (1 - (OFF_MS - t) / (15 * MINUTE)))
        for feed in feeds:
            if rng.random() < 0.6:
                trade_some(feed, rng, 60.0, [s for s in feed.runner_ids if s not in removed])
        t = emit_both(t)

    t = max(t + 100, OFF_MS)
    for feed in feeds:
        feed.update_definition(inPlay=True, betDelay=1)
    t = emit_both(t)
    p_off = softmax(active())
    winner = int(rng.choice(list(p_off), p=list(p_off.values())))
    duration = int(rng.uniform(60_000, 110_000))
    start = t
    while t < start + duration:
        t += int(rng.uniform(200, 800))
        progress = (t - start) / duration
        for sid in active():
            strengths[sid] += float(rng.normal(0.0, 0.12))
        strengths[winner] += 0.1 * progress
        reprice(150.0)
        for feed in feeds:
            trade_some(feed, rng, 120.0, [s for s in feed.runner_ids if s not in removed])
        t = emit_both(t)
    for feed in feeds:
        feed.update_definition(status="SUSPENDED")
    t = emit_both(t + 200)
    t += int(rng.uniform(30_000, 90_000))
    others = [sid for sid in sorted(active(), key=lambda s: -strengths[s]) if sid != winner]
    placed = {winner, *others[: PLACES - 1]}
    for feed, won in ((win, {winner}), (place, placed)):
        for runner in feed.definition["runners"]:
            if runner["status"] != "REMOVED":
                runner["status"] = "WINNER" if runner["id"] in won else "LOSER"
        feed.update_definition(status="CLOSED", settledTime=iso(t))
    emit_both(t)
    return tape
