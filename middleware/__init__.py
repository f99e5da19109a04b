"""flumine market middleware: market state tracking and signal buffers."""
