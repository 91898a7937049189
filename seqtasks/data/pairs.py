"""Readers for sentence-pair files: SICK, STS Benchmark and MRPC, each with its own quirks.

Each returns a Dataset with `tokens` and `tokens_b` (the two sentences), `line`, and either
`score` (a similarity rescaled to [0, 1] from the dataset's own range) or `label` (MRPC's
"0"/"1"). The sentences are raw text, so they are split into words and punctuation here.
"""
from __future__ import annotations

import re
from pathlib import Path

from datasets import Dataset

from seqtasks.data.readers import DataFormatError, decode_line, read_bytes

WORD = re.compile(r"\w+(?:[-.]\w+)*|'\w+|[^\w\s]")


def split_words(text: str) -> list[str]:
    """Words, numbers like 2.5 and hyphenated words kept whole, clitics ('s) apart as GloVe has them,
    every other punctuation mark its own token."""
    return WORD.findall(text)


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


def pairs_dataset(path, rows: list[tuple], kind: str) -> Dataset:
    if not rows:
        raise DataFormatError(path, 1, "no sentence pairs in file")
    numbers, first, second, gold = zip(*rows)
    for number, a, b in zip(numbers, first, second):
        if not a or not b:
            raise DataFormatError(path, number, "a sentence of the pair is empty")
    return Dataset.from_dict({"tokens": list(first), "tokens_b": list(second), kind: list(gold),
                              "line": list(numbers)})


def need_fields(path, number: int, fields: list[str], count: int, layout: str) -> None:
    if len(fields) < count:
        raise DataFormatError(path, number, f"expected {count} tab-separated fields ({layout}), found {len(fields)}")


def read_sick(path: Path | str) -> Dataset:
    """pair_ID, sentence_A, sentence_B, relatedness_score (1-5), entailment_judgment."""
    rows = []
    for number, fields in tab_rows(path, "pair_ID\t"):
        need_fields(path, number, fields, 4, "pair_ID, sentence_A, sentence_B, relatedness_score, ...")
        score = score_value(path, number, fields[3], 1.0, 5.0)
        rows.append((number, split_words(fields[1]), split_words(fields[2]), score))
    return pairs_dataset(path, rows, "score")


def read_stsb(path: Path | str) -> Dataset:
    """genre, file, year, id, score (0-5), sentence1, sentence2 [, 2 source fields on some rows]."""
    rows = []
    for number, fields in tab_rows(path, None):
        need_fields(path, number, fields, 7, "genre, file, year, id, score, sentence1, sentence2")
        score = score_value(path, number, fields[4], 0.0, 5.0)
        rows.append((number, split_words(fields[5]), split_words(fields[6]), score))
    return pairs_dataset(path, rows, "score")


def read_mrpc(path: Path | str) -> Dataset:
    """Quality (1 = paraphrase), #1 ID, #2 ID, #1 String, #2 String."""
    rows = []
    for number, fields in tab_rows(path, "Quality\t"):
        need_fields(path, number, fields, 5, "Quality, #1 ID, #2 ID, #1 String, #2 String")
        if fields[0] not in {"0", "1"}:
            raise DataFormatError(path, number, f"Quality {fields[0]!r} is not 0 or 1")
        rows.append((number, split_words(fields[3]), split_words(fields[4]), fields[0]))
    return pairs_dataset(path, rows, "label")


PAIR_READERS = {"sick": read_sick, "stsb": read_stsb, "mrpc": read_mrpc}
