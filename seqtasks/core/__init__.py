"""The bottom layer: typed configuration, the project's error types, atomic file writes, plots.
Everything else may import it; it imports nothing of the project."""
