"""Your own data: a CSV/TSV, JSON Lines, Parquet or saved-`datasets` file (read by `datasets`' own
local loaders), a CoNLL-style column file or CoNLL-U, or a Hugging Face Hub id. Rows come back in
the built-in readers' shape (`tokens`, `tokens_b` for pairs, the gold column, `line`), checked on the
way in: every problem is one error naming the file, the row or line, and what was found.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import shutil
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
           ".jsonl": ("json", {}), ".parquet": ("parquet", {}), ".text": ("text", {})}
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


def load_table(spec: str, data: DataConfig) -> tuple[Dataset, str, np.ndarray | None]:
    """(the table, where it came from, each row's line in the file: None where rows are lines, from 1,
    or from 2 after a CSV header; given when a CSV's quoted newlines make rows span lines)."""
    path = Path(spec)
    if not path.exists():
        if "/" in spec and not spec.startswith((".", "/")) and path.suffix == "":
            return load_hub(spec), spec, None
        raise DataNotFoundError(f"no such data file: {path}")
    fmt = file_format(path, data)
    if fmt == "arrow":
        return load_saved(path), str(path), None
    builder, options = LOADERS["." + fmt]
    if path.stat().st_size == 0:
        raise DataFormatError(path, 1, "the file is empty")
    readable, temporary = (path, None) if builder == "parquet" else utf8_copy(path)
    try:
        table = datasets.load_dataset(builder, data_files=str(readable), split="train", **options)
    except Exception as error:  # the loaders raise many types; all mean "could not parse this file"
        if "corresponds to no data" in str(error):  # a header and nothing else
            raise DataFormatError(path, 2 if builder == "csv" else 1, "no rows") from error
        line, problem = bad_json_line(readable) if builder == "json" else bad_csv_line(error)
        raise DataFormatError(path, line, problem or f"could not be read as {fmt} "
                                                     f"({type(error).__name__}: {error})") from error
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    lines = csv_row_lines(path, options.get("delimiter", ","), len(table)) if builder == "csv" else None
    return table, str(path), lines


def load_saved(path: Path) -> Dataset:
    """A folder `datasets` wrote with save_to_disk: one split, not a DatasetDict of several."""
    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError:
        raise DataFormatError(path, 1, "a folder, but not a dataset saved with save_to_disk; point data.train at "
                                       "a file (CSV, JSON Lines, Parquet, CoNLL) or at a saved dataset's folder") from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        raise DataFormatError(path, 1, f"a saved DatasetDict with the splits {', '.join(splits)}; point data.train "
                                       f"(and data.dev) at one split's folder, e.g. {path / splits[0]}")
    return loaded


def bad_json_line(path: Path) -> tuple[int, str]:
    """The first line of a JSON Lines file that is not a JSON object, and why (1, "" if none is found)."""
    for number, raw in enumerate(read_bytes(path).split(b"\n"), start=1):
        text = decode_line(raw).strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError as error:
            return number, f"not valid JSON ({error})"
        if not isinstance(value, dict):
            return number, f"expected a JSON object per line, found {type(value).__name__} {text[:40]!r}"
    return 1, ""


def bad_csv_line(error: BaseException) -> tuple[int, str]:
    """The line pandas names in a CSV parse error ("Expected 2 fields in line 26, saw 3"), else (1, "")."""
    while error is not None:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if found:
            expected, line, saw = found.groups()
            return int(line), (f"{saw} fields where the header has {expected}; quote a text that holds the "
                               f"delimiter")
        error = error.__cause__ or error.__context__
    return 1, ""


def csv_row_lines(path: Path, delimiter: str, rows: int) -> np.ndarray | None:
    """Each row's first physical line when quoted newlines make rows span lines (None when rows are
    lines), so an error names the line a user opens their editor at."""
    text = "\n".join(decode_line(part) for part in read_bytes(path).split(b"\n"))
    if sum(1 for line in text.split("\n") if line.strip()) == rows + 1:
        return None
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    starts, previous = [], 0
    for row in reader:
        if row and any(cell.strip() for cell in row):
            starts.append(previous + 1)
        previous = reader.line_num
    return np.asarray(starts[1 : rows + 1])  # the header's line is not a row's


def utf8_copy(path: Path) -> tuple[Path, Path | None]:
    """(a UTF-8 file to read, a temporary folder to remove after reading or None): the file itself when
    it is UTF-8; otherwise a copy decoded line by line as the built-in readers do (Windows-1252, else
    latin-1), with one warning that says so."""
    raw = read_bytes(path)
    try:
        raw.decode("utf-8")
        return path, None
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
    warnings.warn(f"{path}:{line}: not UTF-8; the file is decoded line by line as Windows-1252 (latin-1 where "
                  f"that fails)", stacklevel=3)
    text = "\n".join(decode_line(part) for part in raw.split(b"\n"))
    folder = Path(tempfile.mkdtemp(prefix="seqtasks-"))
    copy = folder / path.name.removesuffix(".gz")
    copy.write_text(text, encoding="utf-8")
    return copy, folder


def load_hub(name: str) -> Dataset:
    try:
        return datasets.load_dataset(name, split="train")
    except Exception as error:  # offline, unknown id, gated: one line, the cause kept
        raise DataNotFoundError(f"{name}: no such file or folder; read as a Hugging Face Hub id, loading it failed "
                                f"too ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
                                ) from error


def read_user_file(spec: str, data: DataConfig, pair: bool, gold: Gold) -> tuple[Dataset, str]:
    """(rows, tokenizer): the tokenizer a raw-text file needs at predict time, "words" or "whitespace"."""
    path = Path(spec)
    fmt = file_format(path, data) if path.is_file() else ""
    if gold.kind == "text" and fmt == "conll" and not data.columns:
        fmt = "text"  # a language model's .txt is plain text, one sentence or document per line
    if fmt == "text":
        data = dataclasses.replace(data, format="text", text="text")
    if gold.kind == "tags" and data.columns and fmt in {"csv", "tsv"}:
        fmt = "conll"  # data.columns is what CoNLL files take: a .tsv of token lines is one
    if fmt == "conllu":
        return read_conllu(path, data.tag_column), "whitespace"
    if fmt == "conll":
        return read_columns(path, data), "whitespace"
    if gold.kind == "tags" and fmt in {"csv", "tsv"} and has_sentence_blocks(path):
        raise DataFormatError(path, 1, "blank-line-separated blocks of token lines: a CoNLL-style file; read it "
                                       "with --set data.format=conll --set data.columns=word,...,tag")
    table, source, lines = load_table(spec, data)
    return rows_from_table(table, source, lines, data, pair, gold)


def has_sentence_blocks(path: Path) -> bool:
    lines = decode_line(read_bytes(path)[:65536]).split("\n")
    return any(not line.strip() for line in lines[1:-1])


def text_type_ok(kind: pa.DataType) -> bool:
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)


def rows_from_table(table: Dataset, source: str, row_lines: np.ndarray | None, data: DataConfig, pair: bool,
                    gold: Gold) -> tuple[Dataset, str]:
    text_columns = [c.strip() for c in data.text.split(",") if c.strip()]
    csv_like = source.lower().removesuffix(".gz").endswith((".csv", ".tsv"))
    header = 1
    if len(text_columns) != (2 if pair else 1):
        raise ConfigError(f"data.text={data.text!r}: this task reads {'two text columns (a,b)' if pair else 'one text column'}")
    if isinstance(table, datasets.DatasetDict):
        raise DataFormatError(source, 1, f"a dataset with the splits {', '.join(table)}; name one")
    for column in [*text_columns, *([] if gold.kind == "text" else [data.label])]:
        if column not in table.column_names:
            raise DataFormatError(source, header, f"no column {column!r}; the columns are: {', '.join(table.column_names)}")
    if len(table) == 0:
        raise DataFormatError(source, 2 if csv_like else 1, "no rows")
    if data.tokenizer not in TOKENIZERS:
        raise ConfigError(f"data.tokenizer={data.tokenizer!r}: expected one of {', '.join(TOKENIZERS)}")
    arrow = table.with_format("arrow")
    for column in text_columns:
        kind = arrow[column].type
        if not text_type_ok(kind):
            raise DataFormatError(source, header, f"column {column!r} holds {kind}, not text or a list of tokens; "
                                                  f"is data.text the right column?")
    lines = row_lines if row_lines is not None else np.arange(2 if csv_like else 1, (2 if csv_like else 1) + len(table))
    sides = [tokenized(arrow[c], data.tokenizer) for c in text_columns]
    empty = np.zeros(len(table), dtype=bool)
    for side in sides:
        empty |= np.asarray(pc.fill_null(pc.list_value_length(side), 0)) == 0
    bad = np.flatnonzero(empty) if gold.kind != "text" else np.array([], dtype=np.int64)  # blank lines of a corpus
    if len(bad):
        where = ", ".join(str(lines[i]) for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
        if not data.skip_bad_rows:
            raise DataFormatError(source, int(lines[bad[0]]), f"{len(bad)} rows with empty or missing text (lines "
                                  f"{where}); fix them or set data.skip_bad_rows=true")
        warnings.warn(f"{source}: skipped {len(bad)} rows with empty or missing text (lines {where})", stacklevel=2)
    keep = np.flatnonzero(~empty)
    if gold.kind == "text":
        gold_column = None
    elif gold.kind == "tags":
        gold_column = token_tags(arrow[data.label], sides[0], lines, source, data.label, keep)
    else:
        values = gold_values(arrow[data.label].type, list(table[data.label]), lines.tolist(), source, data.label, gold)
        gold_column = pa.array([values[i] for i in keep])
    columns = {"tokens": sides[0].take(keep), "line": pa.array(lines[keep])}
    if gold_column is not None:
        columns[gold.kind] = gold_column
    if pair:
        columns["tokens_b"] = sides[1].take(keep)
    raw = pa.types.is_string(arrow[text_columns[0]].type) or pa.types.is_large_string(arrow[text_columns[0]].type)
    return Dataset(pa.table(columns)), data.tokenizer if raw else "whitespace"


def token_tags(column: pa.ChunkedArray | pa.Array, tokens: pa.ListArray, lines: np.ndarray, source: str,
               name: str, keep: np.ndarray) -> pa.ListArray:
    """The tag column of a token-classification table, read as lists (one tag per token), with the
    token and tag counts checked row by row."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise DataFormatError(source, int(lines[0]), f"column {name!r} holds {column.type}, not a list of tags per "
                                                     f"token; token tags come from a list column (JSON Lines, Parquet, "
                                                     f"a saved dataset) or a CoNLL file (data.format=conll)")
    value = column.type.value_type
    if not (pa.types.is_string(value) or pa.types.is_large_string(value) or pa.types.is_integer(value)
            or pa.types.is_boolean(value) or pa.types.is_null(value)):
        raise DataFormatError(source, int(lines[0]), f"column {name!r} holds lists of {value}; tags are strings")
    tags = pc.fill_null(column, pa.scalar([], column.type)).cast(pa.list_(pa.string()))
    if pc.any(pc.is_null(tags.flatten())).as_py():
        row = next(i for i, row in enumerate(tags.to_pylist()) if None in row)
        raise DataFormatError(source, int(lines[row]), f"column {name!r}: a tag is missing (null)")
    counts = np.asarray(pc.list_value_length(tags))
    expected = np.asarray(pc.fill_null(pc.list_value_length(tokens), 0))
    wrong = np.flatnonzero((counts != expected)[keep])
    if len(wrong):
        row = int(keep[wrong[0]])
        raise DataFormatError(source, int(lines[row]), f"{expected[row]} tokens but {counts[row]} tags in column "
                                                       f"{name!r}; each token needs one tag")
    return tags.take(keep)


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


def gold_values(kind: pa.DataType, values: list, lines: list[int], source: str, name: str, gold: Gold) -> list:
    """One scalar per row (a label: string, int or bool; a score: a finite number), checked row by row."""
    if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        raise DataFormatError(source, lines[0], f"column {name!r} holds {kind}; a label or a score is one value "
                                                f"per row (a string, a whole number or true/false)")
    nested = next((i for i, v in enumerate(values) if isinstance(v, list | dict)), None)
    if nested is not None:
        raise DataFormatError(source, lines[nested], f"column {name!r} holds {type(values[nested]).__name__} "
                                                     f"{values[nested]!r:.40}; a label or a score is one value per row")
    missing = next((i for i, v in enumerate(values) if v is None or v == ""), None)
    if missing is not None:
        raise DataFormatError(source, lines[missing], f"column {name!r} is empty")
    if gold.kind == "score":
        scores = [score_of(v, line, source, name, gold.score_range) for v, line in zip(values, lines)]
        if gold.score_range is None:
            outside = next((i for i, v in enumerate(scores) if not 0.0 <= v <= 1.0), None)
            if outside is not None:
                raise DataFormatError(source, lines[outside], f"column {name!r}: score {scores[outside]:g} is outside "
                                      f"[0, 1]; the scores run from {min(scores):g} to {max(scores):g}: set "
                                      f"data.range={min(scores):g},{max(scores):g} to rescale them")
        return scores
    if pa.types.is_floating(kind):
        raise DataFormatError(source, lines[0], f"column {name!r} holds decimal numbers ({values[0]!r}); a label is "
                                                f"a string, a whole number or true/false (a score needs a similarity "
                                                f"or regression task)")
    kinds = {type(v).__name__ for v in values}
    if len(kinds) > 1:
        first = next(i for i, v in enumerate(values) if type(v) is not type(values[0]))
        raise DataFormatError(source, lines[first], f"column {name!r} mixes label types {sorted(kinds)} "
                                                    f"({values[0]!r} and {values[first]!r})")
    labels = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    if len(set(labels)) < 2:
        raise DataFormatError(source, lines[0], f"column {name!r} holds a single label ({labels[0]!r}): "
                                                f"nothing to learn; is it the right column?")
    return labels


def score_of(value, line: int, source: str, column: str, score_range: tuple[float, float] | None) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataFormatError(source, line, f"column {column!r}: score {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataFormatError(source, line, f"column {column!r}: score {value!r} is not a finite number")
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
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ConfigError(f"data.range={text!r}: both ends must be finite numbers, e.g. 0,5")
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

