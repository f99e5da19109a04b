"""`new-strategy`: write a working strategy plugin from the template."""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

from app.plugins import NOT_PLUGINS, STRATEGIES_DIR
from core.errors import UserError

TEMPLATE = Path(__file__).resolve().parent / "templates" / "strategy.py.tmpl"


def write_strategy(name: str, directory: Path = STRATEGIES_DIR) -> Path:
    """Write directory/NAME.py with a ModalStrategy subclass named after NAME; refuses to overwrite."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name) or name in NOT_PLUGINS:
        raise UserError(
            f"strategy name {name!r}: use lower case letters, digits and underscores, starting with a letter"
        )
    path = directory / f"{name}.py"
    if path.exists():
        raise UserError(f"{path}: already exists; choose another name or remove the file")
    class_name = "".join(part.capitalize() for part in name.split("_"))
    text = Template(TEMPLATE.read_text()).substitute(name=name, class_name=class_name)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
