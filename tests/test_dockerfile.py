"""The image runs as a non-root user who can write the data directory, kept on a volume."""

from __future__ import annotations

from tests.conftest import ROOT


def _instructions() -> list[tuple[str, str]]:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_the_image_user_owns_the_data_directory_on_a_volume():
    steps = _instructions()
    user = next(i for i, (op, _) in enumerate(steps) if op == "USER")
    assert steps[user][1] != "root"
    chown = [arg for op, arg in steps[:user] if op == "RUN" and "chown" in arg and "/app/data" in arg]
    assert chown and "mkdir -p /app/data" in chown[0]  # made and handed over before dropping root
    assert ("VOLUME", '["/app/data"]') in steps
    assert ("ENTRYPOINT", '["python", "main.py"]') in steps
