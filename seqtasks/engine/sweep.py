"""One resumable loop over many runs (CV folds, compare-pooling runs, long-range cells): each item
writes its result file when it finishes, and `--resume` takes finished items from disk."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from seqtasks.core.errors import ConfigError


def resumable(result_file: Path, resume: bool, produce: Callable[[], dict]) -> dict:
    """The saved result when resuming and `result_file` exists, else produce() (which writes it)."""
    if resume and result_file.is_file():
        return json.loads(result_file.read_text())
    return produce()


def split_list(text: str) -> list[str]:
    """"a, b,c" -> ["a", "b", "c"]: the comma lists a sweep's config holds."""
    return [item.strip() for item in text.split(",") if item.strip()]


def int_list(text: str, key: str, low: int = 0) -> list[int]:
    """"13,14" -> [13, 14], or one line naming the key: a sweep's lists are checked before it starts."""
    try:
        values = [int(item) for item in split_list(text)]
    except ValueError:
        raise ConfigError(f"{key}={text!r}: expected whole numbers separated by commas, e.g. 13,14,15") from None
    if not values or min(values) < low:
        raise ConfigError(f"{key}={text!r}: expected one or more whole numbers of at least {low}")
    return values


def choice_list(text: str, key: str, choices) -> list[str]:
    """The comma list's items, each one of `choices`."""
    values = split_list(text)
    unknown = [v for v in values if v not in choices]
    if unknown or not values:
        raise ConfigError(f"{key}={text!r}: {'unknown ' + repr(unknown[0]) if unknown else 'empty'}; "
                          f"expected some of {', '.join(choices)}")
    return values
