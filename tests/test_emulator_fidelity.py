"""What a betfairlightweight client sees through the emulator is the recording: every book, and market time."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator.bookcheck import check, emulated_books
from tests.conftest import real

pytestmark = pytest.mark.slow  # replays through the emulator over real sockets


def _assert_faithful(result) -> None:
    assert result.books >= result.messages and result.images > 0  # a book per market changed, images sampled
    assert (result.differing, result.images_differing) == (0, 0), result.examples


def test_every_book_of_a_pro_file_with_split_images_and_non_runners_is_the_recording():
    # PRO-1.170258213 sends mid-stream images with one runner over several rc entries, and removes runners
    result = check([real("PRO-1.170258213.bz2")], speed=5000, max_gap=1.0, image_every=100)
    assert result.messages == 22367
    _assert_faithful(result)


def test_every_book_of_a_greyhound_race_is_the_recording():
    result = check([real("1.197931750.bz2")], speed=2000, max_gap=1.0, image_every=1)
    assert result.messages == 166
    _assert_faithful(result)


def test_every_book_of_a_generated_football_match_is_the_recording(generated):
    result = check([generated["football"]], speed=5000, max_gap=1.0, image_every=5)
    assert result.books > result.messages  # goals suspend several markets in one message
    _assert_faithful(result)


def _definition(pt: int, market_time_ms: int, status: str = "OPEN") -> dict:
    iso = datetime.fromtimestamp(market_time_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "eventId": "1",
        "eventTypeId": "7",
        "marketType": "WIN",
        "marketTime": iso,
        "suspendTime": iso,
        "openDate": iso,
        "inPlay": False,
        "betDelay": 0,
        "status": status,
        "version": pt,
        "runners": [
            {"id": 11, "status": "ACTIVE", "sortPriority": 1},
            {"id": 12, "status": "ACTIVE", "sortPriority": 2},
        ],
    }


def _spaced(path: Path, gaps_ms: list[int]) -> list[int]:
    """A recording whose messages are gaps_ms apart, each with its definition (the race 10 minutes after the first)."""
    pts = [1_600_000_000_000]
    for gap in gaps_ms:
        pts.append(pts[-1] + gap)
    start = pts[0] + 600_000
    lines = [
        {
            "op": "mcm",
            "pt": pt,
            "mc": [{"id": "1.5", "marketDefinition": _definition(pt, start), "rc": [{"id": 11, "ltp": 2 + i / 10}]}],
        }
        for i, pt in enumerate(pts)
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return pts


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_at_20x_publish_times_keep_the_recordings_spacing_and_market_times_move_with_them(tmp_path):
    pts = _spaced(tmp_path / "spaced.json", [2000, 5000, 9000, 1000])  # 17 s of market time: under a second at 20x
    wall = time.time() * 1000
    got = emulated_books([tmp_path / "spaced.json"], speed=20, max_gap=None, timeout=20)
    published = [books[0]["publishTime"] for _, books in got]
    assert len(got) == len(pts)
    assert [p - published[0] for p in published] == [p - pts[0] for p in pts]  # market time, not wall time
    assert abs(published[0] - wall) < 5000  # the replay starts now
    for (_, books), pt in zip(got, pts, strict=True):
        definition = books[0]["marketDefinition"]
        # seconds to start as in the recording (10 minutes before the first message), in every message
        assert _ms(definition["marketTime"]) - books[0]["publishTime"] == pts[0] + 600_000 - pt
        assert definition["openDate"] == definition["suspendTime"] == definition["marketTime"]


def test_a_capped_gap_moves_later_market_times_by_the_same_cut(tmp_path):
    pts = _spaced(tmp_path / "gappy.json", [1000, 60_000, 1000])  # a minute's gap, cut to 2 s
    got = emulated_books([tmp_path / "gappy.json"], speed=20, max_gap=2.0, timeout=20)
    published = [books[0]["publishTime"] for _, books in got]
    assert [p - published[0] for p in published] == [0, 1000, 3000, 4000]
    to_start = [_ms(books[0]["marketDefinition"]["marketTime"]) - books[0]["publishTime"] for _, books in got]
    assert to_start == [pts[0] + 600_000 - pt for pt in pts]  # seconds to start still as recorded
