"""Readers for the datasets' original formats. Each returns a `datasets.Dataset` with a
`tokens` column, the task's gold column(s), and `line` (1-based line of the example in its
file) so later errors can point at the exact place in the source file."""
from __future__ import annotations

import gzip
import warnings
from pathlib import Path
from typing import Callable

from datasets import Dataset


class DataFormatError(ValueError):
    """A malformed input file; the message starts with `path:line:`."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = str(path), line


def read_bytes(path: Path | str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such data file: {path}")
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def decode_line(raw: bytes) -> str:
    """UTF-8 where valid, else Windows-1252 (mr, subj, trec), else latin-1.

    Files are split on b"\\n" before decoding: decoding latin-1 first and calling
    splitlines() would break lines at the 0x85 (NEL) bytes that cp1252 text contains.
    """
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


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


def read_file(reader: str, path: Path | str, tag_column: str = "upos") -> Dataset:
    """`tag_column` picks UPOS or XPOS from CoNLL-U; other formats have one label column."""
    from functools import partial

    from seqtasks.config import ConfigError
    from seqtasks.data.pairs import PAIR_READERS
    from seqtasks.data.tagging import read_conll2003, read_conllu

    if tag_column not in {"upos", "xpos"}:
        raise ConfigError(f"data.tag_column={tag_column!r}: expected upos or xpos")
    readers: dict[str, Callable[[Path | str], Dataset]] = {
        "labeled_lines": read_labeled_lines, "conllu": partial(read_conllu, column=tag_column),
        "conll2003": read_conll2003, **PAIR_READERS}
    if reader not in readers:
        raise KeyError(f"unknown reader {reader!r}; readers: {', '.join(sorted(readers))}")
    return readers[reader](path)
