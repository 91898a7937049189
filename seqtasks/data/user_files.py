"""Your own data: a CSV/TSV, JSON Lines, Parquet or saved-`datasets` file (read by `datasets`' own
local loaders), a CoNLL-style column file or CoNLL-U, or a Hugging Face Hub id. Rows come back in
the built-in readers' shape (`tokens`, `tokens_b` for pairs, the gold column, `line`), checked on the
way in: every problem is one error naming the file, the row or line, and what was found.
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset

from seqtasks.core.config import DataConfig
from seqtasks.core.errors import ConfigError, DataFormatError, DataNotFoundError
from seqtasks.data.files import decode_line, read_bytes
from seqtasks.data.tagging import read_conllu, sentence_blocks
from seqtasks.data.text import TOKENIZERS, tokenize

LOADERS = {".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}), ".json": ("json", {}),
           ".jsonl": ("json", {}), ".parquet": ("parquet", {})}
COLUMN_FORMATS = {".conll", ".txt", ".bio", ".iob"}


@dataclass(frozen=True)
class Gold:
    """What the gold column holds for the task: "label", "score" or "tags"."""

    kind: str
    score_range: tuple[float, float] | None = None


def file_format(path: Path, data: DataConfig) -> str:
    if data.format:
        return data.format
    if path.is_dir():
        return "arrow"
    suffixes = [s for s in path.suffixes if s != ".gz"]
    suffix = suffixes[-1].lower() if suffixes else ""
    if suffix == ".conllu":
        return "conllu"
    if suffix in COLUMN_FORMATS:
        return "conll"
    if suffix in LOADERS:
        return suffix[1:]
    raise ConfigError(f"{path}: cannot tell the format from the extension {suffix or '(none)'}; set data.format to "
                      f"one of csv, tsv, json, jsonl, parquet, conll, conllu, arrow")


def load_table(spec: str, data: DataConfig) -> tuple[Dataset, str, int]:
    """(the table, where it came from, the line of its first row: 2 after a CSV header, else 1)."""
    path = Path(spec)
    if not path.exists():
        if "/" in spec and not spec.startswith((".", "/")) and path.suffix == "":
            return load_hub(spec), spec, 1
        raise DataNotFoundError(f"no such data file: {path}")
    fmt = file_format(path, data)
    if fmt == "arrow":
        return datasets.load_from_disk(str(path)), str(path), 1
    builder, options = LOADERS["." + fmt]
    if path.stat().st_size == 0:
        raise DataFormatError(path, 1, "the file is empty")
    readable = path if builder == "parquet" else utf8_copy(path)
    try:
        table = datasets.load_dataset(builder, data_files=str(readable), split="train", **options)
    except Exception as error:  # the loaders raise many types; all mean "could not parse this file"
        if "corresponds to no data" in str(error):  # a header and nothing else
            raise DataFormatError(path, 2 if builder == "csv" else 1, "no rows") from error
        raise DataFormatError(path, 1, f"could not be read as {fmt} ({type(error).__name__}: {error})") from error
    return table, str(path), 2 if builder == "csv" else 1


def utf8_copy(path: Path) -> Path:
    """The file itself when it is UTF-8; otherwise a UTF-8 copy decoded line by line as the built-in
    readers do (Windows-1252, else latin-1), with one warning that says so."""
    raw = read_bytes(path)
    try:
        raw.decode("utf-8")
        return path
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
    warnings.warn(f"{path}:{line}: not UTF-8; the file is decoded line by line as Windows-1252 (latin-1 where "
                  f"that fails)", stacklevel=3)
    text = "\n".join(decode_line(part) for part in raw.split(b"\n"))
    copy = Path(tempfile.mkdtemp(prefix="seqtasks-")) / path.name.removesuffix(".gz")
    copy.write_text(text, encoding="utf-8")
    return copy


def load_hub(name: str) -> Dataset:
    try:
        return datasets.load_dataset(name, split="train")
    except Exception as error:  # offline, unknown id, gated: one line, the cause kept
        raise DataNotFoundError(f"{name}: not a local file, and loading it from the Hugging Face Hub failed "
                                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
                                ) from error


def read_user_file(spec: str, data: DataConfig, pair: bool, gold: Gold) -> tuple[Dataset, str]:
    """(rows, tokenizer): the tokenizer a raw-text file needs at predict time, "words" or "whitespace"."""
    path = Path(spec)
    if path.exists() and not path.is_dir() and file_format(path, data) in {"conll", "conllu"}:
        if file_format(path, data) == "conllu":
            return read_conllu(path, data.tag_column), "whitespace"
        return read_columns(path, data), "whitespace"
    table, source, first_line = load_table(spec, data)
    return rows_from_table(table, source, first_line, data, pair, gold)


def rows_from_table(table: Dataset, source: str, first_line: int, data: DataConfig, pair: bool,
                    gold: Gold) -> tuple[Dataset, str]:
    text_columns = [c.strip() for c in data.text.split(",") if c.strip()]
    if len(text_columns) != (2 if pair else 1):
        raise ConfigError(f"data.text={data.text!r}: this task reads {'two text columns (a,b)' if pair else 'one text column'}")
    for column in [*text_columns, data.label]:
        if column not in table.column_names:
            raise DataFormatError(source, first_line - 1 if first_line > 1 else 1,
                                  f"no column {column!r}; the columns are: {', '.join(table.column_names)}")
    if len(table) == 0:
        raise DataFormatError(source, first_line, "no rows")
    if data.tokenizer not in TOKENIZERS:
        raise ConfigError(f"data.tokenizer={data.tokenizer!r}: expected one of {', '.join(TOKENIZERS)}")
    arrow = table.with_format("arrow")
    sides = [tokenized(arrow[c], data.tokenizer) for c in text_columns]
    lines = np.arange(first_line, first_line + len(table))
    empty = np.zeros(len(table), dtype=bool)
    for side in sides:
        empty |= np.asarray(pc.fill_null(pc.list_value_length(side), 0)) == 0
    bad = np.flatnonzero(empty)
    if len(bad):
        where = ", ".join(str(lines[i]) for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
        if not data.skip_bad_rows:
            raise DataFormatError(source, int(lines[bad[0]]), f"{len(bad)} rows with empty or missing text (lines "
                                  f"{where}); fix them or set data.skip_bad_rows=true")
        warnings.warn(f"{source}: skipped {len(bad)} rows with empty or missing text (lines {where})", stacklevel=2)
    keep = np.flatnonzero(~empty)
    values = gold_values(list(table[data.label]), lines.tolist(), source, data.label, gold)
    columns = {"tokens": sides[0].take(keep), "line": pa.array(lines[keep]),
               gold.kind: pa.array([values[i] for i in keep])}
    if pair:
        columns["tokens_b"] = sides[1].take(keep)
    raw = pa.types.is_string(arrow[text_columns[0]].type) or pa.types.is_large_string(arrow[text_columns[0]].type)
    return Dataset(pa.table(columns)), data.tokenizer if raw else "whitespace"


def tokenized(column: pa.Array | pa.ChunkedArray, tokenizer: str, batch: int = 50_000) -> pa.ListArray:
    """A text column as token lists: raw text split by the tokenizer a batch of rows at a time (no
    Python list of every token of the file), a list column taken as the tokens; missing is empty."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return pc.fill_null(column, pa.scalar([], column.type)).cast(pa.list_(pa.string()))
    parts = [pa.array([tokenize(text, tokenizer) if text else [] for text in column.slice(start, batch).to_pylist()],
                      type=pa.list_(pa.string()))
             for start in range(0, len(column), batch)]
    return pa.concat_arrays(parts) if parts else pa.array([], type=pa.list_(pa.string()))


def gold_values(values: list, lines: list[int], source: str, column: str, gold: Gold) -> list:
    missing = next((i for i, v in enumerate(values) if v is None or v == ""), None)
    if missing is not None:
        raise DataFormatError(source, lines[missing], f"column {column!r} is empty")
    if gold.kind == "score":
        return [score_of(v, line, source, column, gold.score_range) for v, line in zip(values, lines)]
    kinds = {type(v).__name__ for v in values}
    if len(kinds) > 1:
        first = next(i for i, v in enumerate(values) if type(v) is not type(values[0]))
        raise DataFormatError(source, lines[first], f"column {column!r} mixes label types {sorted(kinds)} "
                                                    f"({values[0]!r} and {values[first]!r})")
    labels = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    if len(set(labels)) < 2:
        raise DataFormatError(source, lines[0], f"column {column!r} holds a single label ({labels[0]!r}): "
                                                f"nothing to learn; is it the right column?")
    return labels


def score_of(value, line: int, source: str, column: str, score_range: tuple[float, float] | None) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataFormatError(source, line, f"column {column!r}: score {value!r} is not a number") from None
    if score_range is None:
        return number
    low, high = score_range
    if not low <= number <= high:
        raise DataFormatError(source, line, f"column {column!r}: score {number} is outside data.range={low:g},{high:g}")
    return (number - low) / (high - low)


def parse_range(text: str) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"data.range={text!r}: expected low,high, e.g. 0,5") from None
    if not low < high:
        raise ConfigError(f"data.range={text!r}: low must be below high")
    return low, high


def read_columns(path: Path, data: DataConfig) -> Dataset:
    """A CoNLL-style file: one token per line, whitespace-separated columns named by data.columns
    (the first is the word), sentences separated by blank lines, -DOCSTART- lines dropped."""
    names = [c.strip() for c in data.columns.split(",") if c.strip()]
    if not names:
        raise ConfigError("data.columns: name the file's columns, e.g. --set data.columns=word,pos,ner")
    if data.label not in names:
        raise ConfigError(f"data.label={data.label!r} is not one of data.columns ({', '.join(names)})")
    column = names.index(data.label)
    tokens, tags, lines = [], [], []
    for first, block in sentence_blocks(path):
        if block[0][1].startswith("-DOCSTART-"):
            continue
        fields = [(number, text.split()) for number, text in block]
        for number, parts in fields:
            if len(parts) != len(names):
                raise DataFormatError(path, number, f"expected {len(names)} columns ({', '.join(names)}), "
                                                    f"found {len(parts)}")
        tokens.append([parts[0] for _, parts in fields])
        tags.append([parts[column] for _, parts in fields])
        lines.append(first)
    if not tokens:
        raise DataFormatError(path, 1, "no sentences in file")
    return Dataset.from_dict({"tokens": tokens, "tags": tags, "line": lines})

