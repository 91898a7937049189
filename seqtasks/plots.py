"""Headless matplotlib and atomic PNG writes, shared by every plot the toolkit draws."""
from __future__ import annotations

from pathlib import Path

from seqtasks.checkpoint import atomic_write


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on training machines
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    atomic_write(path, lambda temp: fig.savefig(temp, format="png", dpi=100))
    pyplot().close(fig)
