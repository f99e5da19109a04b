"""Scenario generator: goals cascade across all football markets, replayable by flumine, reproducible."""

from __future__ import annotations

import gzip
from pathlib import Path

from app.scenarios.generate import generate
from tests.conftest import ROOT, Probe, read_messages, run_probe

FOOTBALL_TYPES = {"MATCH_ODDS", "OVER_UNDER_25", "CORRECT_SCORE", "BOTH_TEAMS_TO_SCORE"}


def status_changes(path: Path) -> list[tuple[int, str, str]]:
    """(pt, market id, new status) for every change of a market's status."""
    last: dict[str, str] = {}
    out = []
    for message in read_messages(path):
        for change in message["mc"]:
            status = change.get("marketDefinition", {}).get("status")
            if status and last.get(change["id"]) != status:
                if change["id"] in last:
                    out.append((message["pt"], change["id"], status))
                last[change["id"]] = status
    return out


def cascades(changes, status: str, window_ms: int = 2000) -> list[list[tuple[int, str, str]]]:
    """Group changes to one status that happen close together."""
    groups: list[list] = []
    for change in (c for c in changes if c[2] == status):
        if groups and change[0] - groups[-1][0][0] <= window_ms:
            groups[-1].append(change)
        else:
            groups.append([change])
    return groups


def test_football_has_four_markets_of_one_event(generated):
    first = read_messages(generated["football"])[0]
    definitions = [c["marketDefinition"] for c in first["mc"]]
    assert {d["marketType"] for d in definitions} == FOOTBALL_TYPES
    assert len({d["eventId"] for d in definitions}) == 1
    assert all(c.get("img") for c in first["mc"])


def test_each_goal_suspends_all_four_markets_within_300ms_and_reopens_them(generated):
    path = generated["football"]
    messages = read_messages(path)
    kick_off = min(m["pt"] for m in messages for c in m["mc"] if c.get("marketDefinition", {}).get("inPlay"))
    changes = status_changes(path)
    suspensions = cascades(changes, "SUSPENDED")
    reopenings = cascades(changes, "OPEN")
    goals = suspensions[:-1]  # the last suspension is full time
    assert len(goals) >= 1
    assert len(reopenings) == len(goals)
    for goal, reopen in zip(goals, reopenings, strict=True):
        assert goal[0][0] > kick_off
        assert len({c[1] for c in goal}) == 4
        assert goal[-1][0] - goal[0][0] <= 300
        assert len({c[1] for c in reopen}) == 4
        assert 5000 <= reopen[0][0] - goal[0][0] <= 10000
    closed = cascades(changes, "CLOSED", window_ms=5000)
    assert len(closed) == 1 and len(closed[0]) == 4
    for message in messages:
        for change in message["mc"]:
            definition = change.get("marketDefinition", {})
            if definition.get("status") == "CLOSED":
                assert [r["status"] for r in definition["runners"]].count("WINNER") == 1
            if definition.get("inPlay"):
                assert definition["betDelay"] == 5


def test_reopened_markets_are_repriced_with_traded_volume(generated):
    path = generated["football"]
    reopen_pts = {(c[0], c[1]) for c in status_changes(path) if c[2] == "OPEN"}
    for message in read_messages(path):
        for change in message["mc"]:
            if (message["pt"], change["id"]) in reopen_pts:
                assert any("atb" in rc or "atl" in rc for rc in change["rc"])
                assert any("trd" in rc for rc in change["rc"])


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, generated):
    again = generate("football", tmp_path / "again.gz", seed=1)
    assert again.read_bytes() == generated["football"].read_bytes()
    other = generate("football", tmp_path / "other.gz", seed=2)
    assert other.read_bytes() != again.read_bytes()
    race_a = generate("race", tmp_path / "a.bz2", seed=5).read_bytes()
    race_b = generate("race", tmp_path / "b.bz2", seed=5).read_bytes()
    assert race_a == race_b


def test_shipped_recordings_are_what_the_generator_writes(tmp_path):
    shipped = sorted((ROOT / "recordings").glob("*-*.gz"))
    assert {p.name.split("-")[0] for p in shipped} == {"football", "race"}
    for path in shipped:
        scenario, seed = path.name.removesuffix(".gz").split("-")
        fresh = generate(scenario, tmp_path / path.name, seed=int(seed))
        assert gzip.decompress(path.read_bytes()) == gzip.decompress(fresh.read_bytes()), path.name


def test_flumine_replays_the_football_cascade_in_one_event_group(tmp_path, generated):
    framework = run_probe(tmp_path, [generated["football"]])
    probe = next(s for s in framework.strategies if isinstance(s, Probe))
    market_ids = {m.market_id for m in framework.recordings[0].markets}
    assert len(market_ids) == 4
    goals = len(cascades(status_changes(generated["football"]), "SUSPENDED")) - 1
    for market_id in market_ids:
        assert len(probe.hooks("on_in_play", market_id)) == 1
        assert len(probe.hooks("on_suspended", market_id)) == goals + 1
        assert len(probe.hooks("on_reopened", market_id)) == goals
        assert len(probe.hooks("on_closed", market_id)) == 1
    times = [c[2] for c in probe.calls if c[0] != "on_closed"]
    assert times == sorted(times)
    assert {s.event_id for s in framework.tracker.states.values()} == {framework.recordings[0].event_id}


def test_race_has_win_and_place_with_a_non_runner_suspending_both(tmp_path, generated):
    path = generated["race"]
    first = read_messages(path)[0]
    assert {c["marketDefinition"]["marketType"] for c in first["mc"]} == {"WIN", "PLACE"}
    suspensions = cascades(status_changes(path), "SUSPENDED")
    assert len(suspensions) == 2  # the non-runner, and the end of the race
    assert all(len({c[1] for c in group}) == 2 for group in suspensions)
    removed = [
        r
        for m in read_messages(path)
        for c in m["mc"]
        for r in c.get("marketDefinition", {}).get("runners", [])
        if r["status"] == "REMOVED"
    ]
    assert removed and all(r.get("adjustmentFactor") for r in removed)
    framework = run_probe(tmp_path, [path])
    probe = next(s for s in framework.strategies if isinstance(s, Probe))
    assert len(probe.hooks("on_in_play")) == 2
    assert len(probe.hooks("on_reopened")) == 2
    assert len(probe.hooks("on_closed")) == 2


def test_a_four_market_file_is_read_once_and_each_market_gets_its_own_changes(tmp_path, generated):
    path = generated["football"]
    messages = read_messages(path)
    expected: dict[str, int] = {}  # lines that change each market before it closes (flumine skips CLOSED books)
    closed: set[str] = set()
    for message in messages:
        for change in message["mc"]:
            if change.get("marketDefinition", {}).get("status") == "CLOSED":
                closed.add(change["id"])
        for market_id in {c["id"] for c in message["mc"]} - closed:
            expected[market_id] = expected.get(market_id, 0) + 1
    framework = run_probe(tmp_path, [path])
    readers = {id(s.reader): s.reader for s in framework.flumine.streams}
    assert len(framework.flumine.streams) == 4 and len(readers) == 1  # four markets, one reader
    (reader,) = readers.values()
    with gzip.open(path, "rt") as f:
        assert reader.lines_read == sum(1 for _ in f)  # every line parsed once, not once per market
    # each market's stream saw every line that changed it: one tracker update per line, until it closed
    assert {m: s.updates for m, s in framework.tracker.states.items()} == expected
