"""Core of paddock: config, plugins, assembly, clock, signals, recordings, reports."""
