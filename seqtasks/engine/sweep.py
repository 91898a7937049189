"""One resumable loop over many runs (CV folds, compare-pooling runs, long-range cells): each item
writes its result file when it finishes, and `--resume` takes finished items from disk."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def resumable(result_file: Path, resume: bool, produce: Callable[[], dict]) -> dict:
    """The saved result when resuming and `result_file` exists, else produce() (which writes it)."""
    if resume and result_file.is_file():
        return json.loads(result_file.read_text())
    return produce()


def split_list(text: str) -> list[str]:
    """"a, b,c" -> ["a", "b", "c"]: the comma lists a sweep's config holds."""
    return [item.strip() for item in text.split(",") if item.strip()]
