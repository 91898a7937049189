"""Readers for token-level tagging data, and tag-scheme conversion.

- CoNLL-U (UD treebanks) through the `conllu` package: only syntactic words are tagged;
  multi-word token lines (`3-4`) and empty nodes (`8.1`) are skipped. Lines are checked for
  their 10 columns first, so a malformed file fails with its file and line.
- CoNLL-2003 columns (`token POS chunk NER`): `-DOCSTART-` lines dropped, sentences split on
  blank lines. The files use IOB1 (an `I-` tag starts an entity unless it follows one of the
  same type; `B-` only separates two adjacent entities of one type).
Each returns a `datasets.Dataset` with `tokens`, `tags` and `line` (first line of the sentence).
"""
from __future__ import annotations

from pathlib import Path

import conllu
from datasets import Dataset

from seqtasks.core.errors import ConfigError, DataFormatError
from seqtasks.data.files import decode_line, read_bytes


def sentence_blocks(path: Path | str):
    """(first line number, [(line number, text)]) for each blank-line-separated block."""
    block, first = [], 0
    for number, raw in enumerate(read_bytes(path).split(b"\n"), start=1):
        text = decode_line(raw).rstrip("\r")
        if text.strip():
            if not block:
                first = number
            block.append((number, text))
        elif block:
            yield first, block
            block = []
    if block:
        yield first, block


def read_conllu(path: Path | str, column: str = "upos") -> Dataset:
    tokens, tags, lines = [], [], []
    for first, block in sentence_blocks(path):
        for number, text in block:
            if not text.startswith("#") and text.count("\t") != 9:
                found = text.count("\t") + 1
                raise DataFormatError(path, number, f"expected 10 tab-separated columns, found {found}")
        try:
            (sentence,) = conllu.parse("\n".join(text for _, text in block) + "\n\n")
        except Exception as error:  # conllu reports no line numbers: add ours
            raise DataFormatError(path, first, f"unreadable CoNLL-U sentence ({error})") from error
        words = [token for token in sentence if isinstance(token["id"], int)]
        if not words:
            raise DataFormatError(path, first, "sentence without words")
        missing = next((w for w in words if not w[column] or w[column] == "_"), None)
        if missing is not None:
            raise DataFormatError(path, first, f"word {missing['id']} ({missing['form']!r}) has no {column.upper()}")
        tokens.append([w["form"] for w in words])
        tags.append([w[column] for w in words])
        lines.append(first)
    return _tagged(path, tokens, tags, lines)


def read_conll2003(path: Path | str, column: int = 3) -> Dataset:
    tokens, tags, lines = [], [], []
    for first, block in sentence_blocks(path):
        if block[0][1].startswith("-DOCSTART-"):
            if len(block) > 1:
                raise DataFormatError(path, block[1][0], "a -DOCSTART- line must stand alone")
            continue
        words, sentence_tags = [], []
        for number, text in block:
            fields = text.split(" ")
            if len(fields) != 4:
                raise DataFormatError(path, number, f"expected 4 space-separated columns, found {len(fields)}")
            tag = fields[column]
            if tag != "O" and not (tag[:2] in {"B-", "I-"} and len(tag) > 2):
                raise DataFormatError(path, number, f"tag {tag!r} is not O, B-TYPE or I-TYPE")
            words.append(fields[0])
            sentence_tags.append(tag)
        tokens.append(words)
        tags.append(sentence_tags)
        lines.append(first)
    return _tagged(path, tokens, tags, lines)


def _tagged(path, tokens, tags, lines) -> Dataset:
    if not tokens:
        raise DataFormatError(path, 1, "no sentences in file")
    return Dataset.from_dict({"tokens": tokens, "tags": tags, "line": lines})


def iob1_to_bio(tags: list[str]) -> list[str]:
    """IOB1 -> BIO (IOB2): every entity starts with B-."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-"):
            previous = tags[i - 1] if i else "O"
            if previous == "O" or previous[2:] != tag[2:]:
                tag = "B-" + tag[2:]
        out.append(tag)
    return out


def bio_to_bioes(tags: list[str]) -> list[str]:
    """BIO -> BIOES: single-token entities become S-, last tokens E-."""
    out = []
    for i, tag in enumerate(tags):
        following = tags[i + 1] if i + 1 < len(tags) else "O"
        continues = following == "I-" + tag[2:]
        if tag.startswith("B-"):
            out.append(tag if continues else "S-" + tag[2:])
        elif tag.startswith("I-"):
            out.append(tag if continues else "E-" + tag[2:])
        else:
            out.append(tag)
    return out


def bioes_to_bio(tags: list[str]) -> list[str]:
    return ["B-" + t[2:] if t.startswith("S-") else "I-" + t[2:] if t.startswith("E-") else t for t in tags]


def convert_scheme(dataset: Dataset, scheme: str) -> Dataset:
    """IOB1 entity tags as read from CoNLL-2003 -> the scheme a model trains on ("" keeps them)."""
    if not scheme:
        return dataset
    if scheme not in {"BIO", "BIOES"}:
        raise ConfigError(f"unknown tag scheme {scheme!r}; schemes: BIO, BIOES")
    convert = iob1_to_bio if scheme == "BIO" else (lambda tags: bio_to_bioes(iob1_to_bio(tags)))
    return dataset.map(lambda row: {"tags": convert(row["tags"])}, keep_in_memory=True)
