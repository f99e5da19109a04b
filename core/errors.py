"""Errors a user can cause, each carrying one clear message and the CLI exit code."""


class UserError(Exception):
    """An error the operator can fix (bad path, config, plugin, recording, credentials)."""

    exit_code = 2


class ConfigError(UserError):
    """The config file is missing, unreadable or invalid."""


class PluginError(UserError):
    """A strategy plugin is unknown or failed to load."""


class RecordingError(UserError):
    """A recording path or line cannot be used."""


class CredentialsError(UserError):
    """Live or paper trading lacks the credentials it needs."""


class EmulatorError(UserError):
    """The emulator cannot start as asked (bad speed, port in use, bad fault file)."""


class StoreError(UserError):
    """The audit store cannot be opened, migrated or read (bad URL, unreachable server, damaged file)."""
