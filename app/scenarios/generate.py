"""Entry point of the scenario generator: scenario name and seed to a recording file."""

from __future__ import annotations

from pathlib import Path

from app.scenarios.football import generate_football
from app.scenarios.race import generate_race

SCENARIOS = {"football": generate_football, "race": generate_race}


def generate(scenario: str, out: Path, seed: int = 1) -> Path:
    """Write a generated recording (plain, .gz or .bz2 by suffix) and return its path."""
    return SCENARIOS[scenario](seed).write(out)
