"""`python main.py config show`: the effective config (file values and defaults) as TOML, secrets masked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomli_w
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.auditdb import ENV_URL, shown, store_url
from core.config import LoadedConfig
from core.redact import redactor


def _masked(value: Any) -> Any:
    """A config value with any password in a URL masked, recursively through tables and arrays."""
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, str) and "://" in value:
        try:
            url = make_url(value)
        except ArgumentError:
            return value
        return url.render_as_string(hide_password=True) if url.password else value
    return value


def _unset(value: Any, prefix: str = "") -> list[str]:
    """Keys whose value is None (a limit that is off, a URL not given): TOML has no null, so they are listed."""
    if isinstance(value, dict):
        return [key for name, item in value.items() for key in _unset(item, f"{prefix}{name}.")]
    if isinstance(value, list):
        return [key for i, item in enumerate(value) for key in _unset(item, f"{prefix[:-1]}[{i}].")]
    return [prefix[:-1]] if value is None else []


def config_text(config: LoadedConfig, environ: Mapping[str, str]) -> str:
    """The config as TOML with every default filled in, and where the audit store is, no secret shown."""
    full = config.app.model_dump(mode="json")
    body = tomli_w.dumps(_masked(config.app.model_dump(mode="json", exclude_none=True)))
    unset = _unset(full)
    source = ENV_URL if environ.get(ENV_URL) else ("[store] url" if config.app.store.url else "data_dir")
    where = shown(store_url(config, environ)) if config.app.store.enabled else "off ([store] enabled = false)"
    head = f"# {config.path}, with defaults filled in\n# audit store: {where} (from {source})\n"
    if unset:
        head += f"# not set (off): {', '.join(unset)}\n"
    return redactor()(head + body)
