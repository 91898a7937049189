"""Readers for the datasets' original formats, by name (READERS). Each returns a `datasets.Dataset`
with a `tokens` column, the task's gold column(s), and `line` (1-based line of the example in its
file) so later errors can point at the exact place in the source file."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

from datasets import Dataset

from seqtasks.core.errors import ConfigError, DataFormatError
from seqtasks.data.files import decode_line, read_bytes
from seqtasks.data.pairs import PAIR_READERS
from seqtasks.data.tagging import read_conll2003, read_conllu


def read_labeled_lines(path: Path | str) -> Dataset:
    """Kim-style `<label> <tokenised sentence>` lines (sst2, sst5, trec, mr, subj, cr, mpqa).

    A label with no text (4 lines of cr, 3 of mpqa, counted in their published sizes) is an
    example with nothing to classify: skipped with a warning that names the lines.
    """
    tokens, labels, lines, empty = [], [], [], []
    for number, raw in enumerate(read_bytes(path).split(b"\n"), start=1):
        text = decode_line(raw).strip()
        if not text:
            continue
        label, _, sentence = text.partition(" ")
        words = sentence.split()
        if not words:
            empty.append(number)
            continue
        tokens.append(words)
        labels.append(label)
        lines.append(number)
    if not tokens:
        raise DataFormatError(path, 1, "no examples in file")
    if empty:
        warnings.warn(f"{path}: skipped {len(empty)} lines with a label but no text: lines {empty}", stacklevel=2)
    return Dataset.from_dict({"tokens": tokens, "label": labels, "line": lines})


def is_pair_reader(reader: str) -> bool:
    """Whether a built-in reader's rows hold two texts (`tokens` and `tokens_b`)."""
    return reader in PAIR_READERS


def read_file(reader: str, path: Path | str, tag_column: str = "upos") -> Dataset:
    """`tag_column` picks UPOS or XPOS from CoNLL-U; other formats have one label column."""
    if tag_column not in {"upos", "xpos"}:
        raise ConfigError(f"data.tag_column={tag_column!r}: expected upos or xpos")
    readers: dict[str, Callable[[Path | str], Dataset]] = {
        "labeled_lines": read_labeled_lines, "conllu": partial(read_conllu, column=tag_column),
        "conll2003": read_conll2003, **PAIR_READERS}
    if reader not in readers:
        raise ConfigError(f"unknown reader {reader!r}; readers: {', '.join(sorted(readers))}")
    return readers[reader](path)
