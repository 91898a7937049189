"""The engine: the steps a recipe runs, the training loop, run folders, sweeps and provenance."""
