"""Headless matplotlib and atomic PNG writes, shared by every plot the toolkit draws."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on training machines: set before pyplot is imported
import matplotlib.pyplot as plt

from seqtasks.core.checkpoint import atomic_write


def pyplot():
    return plt


def save_figure(fig, path: Path) -> None:
    atomic_write(path, lambda temp: fig.savefig(temp, format="png", dpi=100))
    pyplot().close(fig)
