"""A sweep's grid: `--grid "param=a,b,c"` options parsed with the strategy's typed params, and their combinations."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from core.errors import UserError


@dataclass(frozen=True)
class Grid:
    """The swept params in --grid order, each with its typed values in the order given."""

    names: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination of the values, the last param varying fastest."""
        return [dict(zip(self.names, combo, strict=True)) for combo in itertools.product(*self.values)]


def value_text(value: Any) -> str:
    """A param value as the table, the heat map and `runs` show it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_grid(options: list[str], model: type[BaseModel], base: dict[str, Any], strategy: str) -> Grid:
    """The grid of the --grid options, each value validated by the strategy's params model with the config's
    other params (base); a malformed option, an unknown param or a bad value is a UserError naming the option."""
    names: list[str] = []
    values: list[tuple[Any, ...]] = []
    for option in options:
        shown = f'--grid "{option}"'
        name, sep, text = option.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UserError(f'{shown}: give a param and its values, e.g. --grid "threshold=0.6,0.7"')
        if name not in model.model_fields:
            known = ", ".join(model.model_fields)
            raise UserError(f"{shown}: strategy {strategy} has no param {name!r} (its params: {known})")
        if name in names:
            raise UserError(f"{shown}: param {name!r} is already swept by an earlier --grid")
        raw = [part.strip() for part in text.split(",")]
        if any(not part for part in raw):
            raise UserError(f"{shown}: an empty value (give values separated by commas, e.g. {name}=1,2)")
        typed = tuple(_typed(model, base, name, part, shown) for part in raw)
        for i, value in enumerate(typed):
            if value in typed[:i]:
                raise UserError(f"{shown}: {name}={raw[i]} is given twice")
        names.append(name)
        values.append(typed)
    return Grid(tuple(names), tuple(values))


def _typed(model: type[BaseModel], base: dict[str, Any], name: str, text: str, shown: str) -> Any:
    """One grid value as the params model reads it (with the config's other params), or a UserError."""
    try:
        params = model.model_validate({**base, name: text})
    except ValidationError as exc:
        mine = [e for e in exc.errors() if e["loc"] and e["loc"][0] == name] or exc.errors()
        raise UserError(f"{shown}: {name}={text}: {mine[0]['msg']}") from None
    return getattr(params, name)
