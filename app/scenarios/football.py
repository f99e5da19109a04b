"""Football scenario: one match with four related markets, goals that suspend them all, repricing."""

from __future__ import annotations

import numpy as np
from scipy.stats import poisson

from app.scenarios.tape import MarketFeed, Tape, iso, market_definition, quote, trade_some

KICK_OFF_MS = 1767279600000  # 2026-01-01T15:00:00Z
MINUTE = 60_000
CORRECT_SCORES = [(h, a) for h in range(4) for a in range(4)]
ANY_OTHER = {"Any Other Home Win": 9063254, "Any Other Away Win": 9063255, "Any Other Draw": 9063256}


def _market_runners(home: str, away: str) -> dict[str, list[tuple[int, str]]]:
    return {
        "MATCH_ODDS": [(47999, home), (48044, away), (58805, "The Draw")],
        "OVER_UNDER_25": [(47972, "Under 2.5 Goals"), (47973, "Over 2.5 Goals")],
        "CORRECT_SCORE": [(1 + 4 * h + a, f"{h} - {a}") for h, a in CORRECT_SCORES]
        + [(sid, label) for label, sid in ANY_OTHER.items()],
        "BOTH_TEAMS_TO_SCORE": [(30246, "Yes"), (110503, "No")],
    }


MARKET_NAMES = {
    "MATCH_ODDS": "Match Odds",
    "OVER_UNDER_25": "Over/Under 2.5 Goals",
    "CORRECT_SCORE": "Correct Score",
    "BOTH_TEAMS_TO_SCORE": "Both teams to Score?",
}


def final_score_matrix(home: int, away: int, lam_home: float, lam_away: float, cap: int = 12) -> np.ndarray:
    """P[i, j]: probability that the home side adds i more goals and the away side j (independent Poisson)."""
    k = np.arange(cap + 1)
    return np.outer(poisson.pmf(k, lam_home), poisson.pmf(k, lam_away))


def market_probabilities(
    home: int, away: int, remaining: float, lam_home: float, lam_away: float
) -> dict[str, dict[int, float]]:
    """Fair probabilities of every runner of the four markets, given the score and remaining fraction of the match."""
    m = final_score_matrix(home, away, lam_home * remaining, lam_away * remaining)
    i, j = np.indices(m.shape)
    fh, fa = home + i, away + j
    cs = {}
    for h, a in CORRECT_SCORES:
        cs[1 + 4 * h + a] = float(m[h - home, a - away]) if h >= home and a >= away else 0.0
    big = (fh > 3) | (fa > 3)
    cs[ANY_OTHER["Any Other Home Win"]] = float(m[big & (fh > fa)].sum())
    cs[ANY_OTHER["Any Other Away Win"]] = float(m[big & (fa > fh)].sum())
    cs[ANY_OTHER["Any Other Draw"]] = float(m[big & (fa == fh)].sum())
    return {
        "MATCH_ODDS": {47999: float(m[fh > fa].sum()), 48044: float(m[fa > fh].sum()), 58805: float(m[fh == fa].sum())},
        "OVER_UNDER_25": {47972: float(m[fh + fa <= 2].sum()), 47973: float(m[fh + fa > 2].sum())},
        "CORRECT_SCORE": cs,
        "BOTH_TEAMS_TO_SCORE": {
            30246: float(m[(fh > 0) & (fa > 0)].sum()),
            110503: float(m[(fh == 0) | (fa == 0)].sum()),
        },
    }


def winners(home: int, away: int) -> dict[str, set[int]]:
    """Winning selections of each market for a final score."""
    cs = 1 + 4 * home + away if home <= 3 and away <= 3 else None
    if cs is None:
        label = "Any Other Home Win" if home > away else "Any Other Away Win" if away > home else "Any Other Draw"
        cs = ANY_OTHER[label]
    return {
        "MATCH_ODDS": {47999 if home > away else 48044 if away > home else 58805},
        "OVER_UNDER_25": {47973 if home + away > 2 else 47972},
        "CORRECT_SCORE": {cs},
        "BOTH_TEAMS_TO_SCORE": {30246 if home and away else 110503},
    }


def generate_football(seed: int = 1) -> Tape:
    """A recording of one football match (seeded): pre-match, kick-off, goals with cascades, settlement."""
    rng = np.random.default_rng(seed)
    lam_home, lam_away = float(rng.uniform(1.2, 1.9)), float(rng.uniform(0.8, 1.4))
    home, away = f"Home Town {seed}", f"Away United {seed}"
    event_id = str(35000000 + seed)
    event_name = f"{home} v {away}"
    runners = _market_runners(home, away)
    feeds = {}
    for k, market_type in enumerate(runners):
        feeds[market_type] = MarketFeed(
            f"1.{250000000 + seed * 10 + k + 1}",
            market_definition(
                event_id=event_id,
                event_name=event_name,
                event_type_id="1",
                market_type=market_type,
                name=MARKET_NAMES[market_type],
                market_time_ms=KICK_OFF_MS,
                runners=runners[market_type],
                number_of_winners=1,
                country_code="GB",
            ),
        )

    n_goals = 0
    while n_goals == 0:
        n_goals = min(int(rng.poisson(lam_home + lam_away)), 6)
    minutes = np.sort(rng.choice(np.arange(3, 88, 2), size=n_goals, replace=False))  # >= 1 min apart
    goals = [
        (
            KICK_OFF_MS + int(m) * MINUTE + int(rng.integers(0, MINUTE)),
            bool(rng.random() < lam_home / (lam_home + lam_away)),
        )
        for m in minutes
    ]
    full_time = KICK_OFF_MS + (90 + int(rng.integers(2, 6))) * MINUTE

    events: list[tuple[int, int, str, str]] = []  # (pt, order, kind, market type)
    order = 0

    def add(pt: int, kind: str, market_type: str) -> None:
        nonlocal order
        order += 1
        events.append((pt, order, kind, market_type))

    t = KICK_OFF_MS - 15 * MINUTE
    while t < KICK_OFF_MS - 5_000:
        add(t, "tick", str(rng.choice(list(feeds))))
        t += int(rng.uniform(4_000, 12_000))
    for market_type in feeds:
        add(KICK_OFF_MS + int(rng.integers(0, 250)), "kickoff", market_type)
    t = KICK_OFF_MS + 1_000
    while t < full_time:
        for k, market_type in enumerate(feeds):
            add(t + 40 * k, "tick", market_type)
        t += int(rng.uniform(8_000, 20_000))
    for goal_time, _ in goals:
        reopen = goal_time + int(rng.uniform(5_000, 9_700))
        for market_type in feeds:
            add(goal_time + int(rng.integers(0, 280)), "suspend", market_type)
            add(reopen + int(rng.integers(0, 250)), "reopen", market_type)
    for market_type in feeds:
        add(full_time + int(rng.integers(0, 280)), "suspend", market_type)
        add(full_time + 2 * MINUTE + int(rng.integers(0, 250)), "settle", market_type)
    events.sort()

    def score_at(pt: int) -> tuple[int, int]:
        h = sum(1 for g, is_home in goals if g <= pt and is_home)
        a = sum(1 for g, is_home in goals if g <= pt and not is_home)
        return h, a

    def reprice(feed: MarketFeed, market_type: str, pt: int, liquidity: float) -> None:
        h, a = score_at(pt)
        remaining = 1.0 if pt < KICK_OFF_MS else max(0.0, (KICK_OFF_MS + 90 * MINUTE - pt) / (90 * MINUTE))
        probs = market_probabilities(h, a, remaining, lam_home, lam_away)[market_type]
        noisy = {sid: p * float(np.exp(rng.normal(0.0, 0.02))) for sid, p in probs.items()}
        quote(feed, noisy, rng, liquidity)

    tape = Tape()
    start = KICK_OFF_MS - 15 * MINUTE - 1_000
    for market_type, feed in feeds.items():
        reprice(feed, market_type, start, 60.0)
    tape.emit(start, [feed.image() for feed in feeds.values()])
    for pt, _, kind, market_type in events:
        feed = feeds[market_type]
        status = feed.definition["status"]
        if kind == "tick":
            if status != "OPEN":
                continue
            reprice(feed, market_type, pt, 80.0)
            if rng.random() < 0.7:
                trade_some(feed, rng, 40.0)
        elif kind == "kickoff":
            feed.update_definition(inPlay=True, betDelay=5)
        elif kind == "suspend":
            feed.update_definition(status="SUSPENDED")
        elif kind == "reopen":
            feed.update_definition(status="OPEN")
            reprice(feed, market_type, pt, 120.0)
            for _ in range(3):
                trade_some(feed, rng, 150.0)
        elif kind == "settle":
            won = winners(*score_at(pt))[market_type]
            for runner in feed.definition["runners"]:
                runner["status"] = "WINNER" if runner["id"] in won else "LOSER"
            feed.update_definition(status="CLOSED", settledTime=iso(pt))
        tape.emit(pt, [feed.flush()])
    return tape
