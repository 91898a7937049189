"""Experiments and measurements: the benchmark, the long-range cells experiment, compare-pooling."""
