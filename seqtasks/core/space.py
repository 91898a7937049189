"""A search space: which config fields `seqtasks tune` varies, and over what. One spelling, on the
command line (`--space train.lr=log:1e-4:1e-2`) and in TOML (`[space]` with `"train.lr" = "log:1e-4:1e-2"`):

    log:LOW:HIGH     a float (or whole number) drawn on a log scale
    float:LOW:HIGH   a float drawn uniformly
    int:LOW:HIGH     a whole number, both ends included
    cat:A,B,C        one of the listed values, each read as the field's type

Each dimension is checked against the config before any trial runs: the key must exist, the kind must
suit the field's type, and every end point or choice must pass the field's range (core/config.py RANGES),
so a typo costs one line, not an hour of trials.
"""
from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from seqtasks.core.config import ConfigError, _parse, check_values, set_value

KINDS = ("log", "float", "int", "cat")


@dataclass(frozen=True)
class Dimension:
    """One config field and the values a trial may give it."""

    key: str
    kind: str  # one of KINDS
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()
    whole: bool = False  # log over an int field draws whole numbers

    def spec(self) -> str:
        """The spelling it was parsed from (up to number formatting)."""
        if self.kind == "cat":
            return "cat:" + ",".join(override_text(c) for c in self.choices)
        return f"{self.kind}:{self.low:g}:{self.high:g}"

    def suggest(self, trial) -> Any:
        """This dimension's value for an Optuna trial."""
        if self.kind == "cat":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int" or self.whole:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.kind == "log")
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "log")


def override_text(value: Any) -> str:
    """A value as `--set` spells it: true/false for booleans, none for None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def field_type(config: Any, key: str) -> Any:
    """The declared type of `key` in `config`, or the config's own unknown-key error."""
    *path, name = key.split(".")
    target = config
    for part in path:
        target = getattr(target, part, None)
    if (not dataclasses.is_dataclass(target) or name not in {f.name for f in dataclasses.fields(target)}
            or dataclasses.is_dataclass(getattr(target, name))):
        set_value(copy.deepcopy(config), key, "")  # raises: unknown config key, with the valid ones
    kind = typing.get_type_hints(type(target))[name]
    options = [k for k in typing.get_args(kind) if k is not type(None)]
    return options[0] if options else kind


def parse_dimension(item: str, config: Any) -> Dimension:
    """'KEY=KIND:ARGS' -> a Dimension checked against `config` (its key, type and ranges)."""
    key, sep, spec = item.partition("=")
    key, spec = key.strip(), spec.strip()
    kind, _, args = spec.partition(":")
    if not sep or not key or kind not in KINDS or not args:
        raise ConfigError(f"--space {item!r}: expected KEY=KIND:VALUES with KIND one of {', '.join(KINDS)}, "
                          f"e.g. train.lr=log:1e-4:1e-2 or head.pooling=cat:last,max,attention")
    declared = field_type(config, key)
    if kind == "cat":
        choices = tuple(_parse(text.strip(), declared, key) for text in args.split(",") if text.strip())
        if not choices:
            raise ConfigError(f"--space {item!r}: cat needs at least one value")
        dimension = Dimension(key, kind, choices=choices)
    else:
        if declared not in (int, float):
            raise ConfigError(f"--space {item!r}: {key} holds a {declared.__name__}; list its values with cat:")
        if kind == "float" and declared is int:
            raise ConfigError(f"--space {item!r}: {key} holds whole numbers; use int: or log:")
        if kind == "int" and declared is float:
            raise ConfigError(f"--space {item!r}: {key} holds a float; use float: or log:")
        ends = args.split(":")
        try:
            low, high = (float(end) for end in ends) if len(ends) == 2 else (None, None)
        except ValueError:
            low = high = None
        if low is None or not low < high or (declared is int and not (low.is_integer() and high.is_integer())):
            raise ConfigError(f"--space {item!r}: expected {kind}:LOW:HIGH with LOW < HIGH"
                              f"{' (whole numbers)' if declared is int else ''}")
        if kind == "log" and low <= 0:
            raise ConfigError(f"--space {item!r}: a log scale needs LOW > 0")
        dimension = Dimension(key, kind, low, high, whole=declared is int)
        choices = (int(low), int(high)) if declared is int else (low, high)
    for value in choices:  # the field's own range: every value a trial can draw lies between these
        probe = copy.deepcopy(config)
        set_value(probe, key, override_text(value))
        try:
            check_values(probe)
        except ConfigError as error:
            raise ConfigError(f"--space {item!r}: {error}") from None
    return dimension


def parse_space(items: list[str], config: Any) -> dict[str, Dimension]:
    """Dimensions by key, later items replacing earlier ones (a task's default, then the user's)."""
    space: dict[str, Dimension] = {}
    for item in items:
        dimension = parse_dimension(item, config)
        space[dimension.key] = dimension
    return space


def space_items(table: dict, where: str) -> list[str]:
    """A TOML [space] table (dotted keys quoted, or nested tables) as KEY=SPEC items."""
    items = []
    for key, value in table.items():
        if isinstance(value, dict):
            items += [f"{key}.{item}" for item in space_items(value, where)]
        elif isinstance(value, str):
            items.append(f"{key}={value}")
        else:
            raise ConfigError(f"{where}: [space] {key} = {value!r}: expected a string such as \"log:1e-4:1e-2\"")
    return items
