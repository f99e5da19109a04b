"""The top floor: assembling the framework for a mode, the CLI, plugins, reports, progress, scenarios."""
