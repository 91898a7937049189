"""Readers for sentence-pair files: SICK, STS Benchmark and MRPC, each with its own quirks.

Each returns a Dataset with `tokens` and `tokens_b` (the two sentences), `line`, and `score` (a
similarity rescaled to [0, 1] from the dataset's own range) or `label` (MRPC's "0"/"1"), or both:
SICK carries a relatedness score and an entailment label for every pair, so one file serves
sentence-similarity (its gold is `score`) and pair-classification (`label`). The sentences are raw
text, so they are split into words and punctuation here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from datasets import Dataset

from seqtasks.core.errors import DataFormatError
from seqtasks.data.files import decode_line, read_bytes
from seqtasks.data.text import split_words


def tab_rows(path: Path | str, header: str | None):
    """(line number, fields) of a tab-separated file, CRLF or LF, with a BOM and any repeats of
    `header` (MRPC's dev file repeats it) skipped. Quotes are plain characters: STS-B has
    unbalanced ones that a CSV reader would merge across lines."""
    for number, raw in enumerate(read_bytes(path).split(b"\n"), start=1):
        text = decode_line(raw).rstrip("\r").lstrip("\ufeff")
        if not text.strip() or (header is not None and text.startswith(header)):
            continue
        yield number, text.split("\t")


def score_value(path, number: int, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(path, number, f"score {text!r} is not a number") from None
    if not low <= value <= high:
        raise DataFormatError(path, number, f"score {value} is outside the dataset's range [{low}, {high}]")
    return (value - low) / (high - low)


def pairs_dataset(path, rows: list[tuple], kinds: tuple[str, ...]) -> Dataset:
    """rows: (line, first, second, *gold values, one per name in kinds)."""
    if not rows:
        raise DataFormatError(path, 1, "no sentence pairs in file")
    numbers, first, second, *golds = zip(*rows)
    for number, a, b in zip(numbers, first, second):
        if not a or not b:
            raise DataFormatError(path, number, "a sentence of the pair is empty")
    return Dataset.from_dict({"tokens": list(first), "tokens_b": list(second),
                              **{kind: list(gold) for kind, gold in zip(kinds, golds)}, "line": list(numbers)})


@dataclass(frozen=True)
class PairLayout:
    """Where a file keeps its header, gold value and the two sentences (0-based columns)."""

    header: str | None  # lines starting with it are skipped (MRPC's dev file repeats it)
    fields: str  # the columns, for error messages
    gold: int
    first: int
    second: int
    score_range: tuple[float, float] | None  # None: the gold value is a "0"/"1" label
    label: int | None = None  # a label column beside the score (SICK's entailment judgment)


LAYOUTS = {
    "sick": PairLayout("pair_ID\t", "pair_ID, sentence_A, sentence_B, relatedness_score (1-5), entailment_judgment",
                       3, 1, 2, (1.0, 5.0), label=4),
    "stsb": PairLayout(None, "genre, file, year, id, score (0-5), sentence1, sentence2", 4, 5, 6, (0.0, 5.0)),
    "mrpc": PairLayout("Quality\t", "Quality, #1 ID, #2 ID, #1 String, #2 String", 0, 3, 4, None),
}


def read_pairs(path: Path | str, layout: PairLayout) -> Dataset:
    rows = []
    count = max(layout.gold, layout.first, layout.second, layout.label or 0) + 1
    for number, fields in tab_rows(path, layout.header):
        if len(fields) < count:
            raise DataFormatError(path, number, f"expected {count} tab-separated fields ({layout.fields}), "
                                                f"found {len(fields)}")
        gold = fields[layout.gold]
        if layout.score_range is not None:
            gold = score_value(path, number, gold, *layout.score_range)
        elif gold not in {"0", "1"}:
            raise DataFormatError(path, number, f"label {gold!r} is not 0 or 1")
        extra = ()
        if layout.label is not None:
            if not fields[layout.label].strip():
                raise DataFormatError(path, number, f"empty label in column {layout.label + 1} ({layout.fields})")
            extra = (fields[layout.label].strip(),)
        rows.append((number, split_words(fields[layout.first]), split_words(fields[layout.second]), gold, *extra))
    kinds = ("label",) if layout.score_range is None else ("score", "label") if layout.label is not None else ("score",)
    return pairs_dataset(path, rows, kinds)


PAIR_READERS = {name: partial(read_pairs, layout=layout) for name, layout in LAYOUTS.items()}
