"""Raw text lines in, one JSON record per line out, in input order: one text per line, or for a
pair task two tab-separated texts per line. What a record holds is the task's (seqtasks/tasks)."""
from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TextIO

import torch

from seqtasks.core.errors import ConfigError, DataFormatError
from seqtasks.data.arrow_tokens import rows_in_memory
from seqtasks.engine.run import LoadedRun
from seqtasks.tasks.inference import batch_outputs


def predict_lines(run: LoadedRun, lines: Iterable[str], batch_size: int = 256) -> Iterator[dict]:
    """One text per line (a pair task: two, tab-separated) -> predict_rows' records, in order."""
    lines = iter(lines)
    while chunk := [line.rstrip("\r\n") for line in islice(lines, batch_size)]:
        yield from predict_rows(run, [line.split("\t") if run.task.pair else [line] for line in chunk])


def predict_rows(run: LoadedRun, rows: Sequence[Sequence[str]]) -> list[dict]:
    """One record per row of texts (one text; a pair task's two), in order. An empty or over-long text
    (more than the run's data.max_tokens), or a pair row without exactly two texts, gets
    {"text": ..., "error": ...} in its place, so answers stay aligned with inputs. The server
    (seqtasks/tools/serve.py) answers through this too, so its records are predict's."""
    task, limit = run.task, run.config.data.max_tokens
    texts = [list(row) for row in rows]
    tokens = [[run.vocab.tokenize(text) for text in row] for row in texts]
    errors = {i: row_error(row, task.pair, limit) for i, row in enumerate(tokens)}
    real = [i for i, error in errors.items() if error is None]
    predictions = None
    if real:
        columns = {"tokens": [tokens[i][0] for i in real], "line": [i + 1 for i in real]}
        if task.pair:
            columns["tokens_b"] = [tokens[i][1] for i in real]
        split = task.encode(rows_in_memory(columns), run.vocab, None, "input", 0, run.config.encoder.chars)
        predictions = task.predictions(run.model, split)
    position = {i: n for n, i in enumerate(real)}
    return [{"text": "\t".join(texts[i]), "error": errors[i]} if errors[i] is not None
            else task.record(texts[i], tokens[i], predictions, position[i], run.labels.labels)
            for i in range(len(texts))]


def embed_texts(run: LoadedRun, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
    """The sentence vectors [N, D] a pair task's head compares (to index for search), from either
    backend: the texts go in as pairs, the first half against the second, so each is encoded once."""
    if not run.task.pair:
        raise ConfigError(f"embed needs a pair task's run (sentence-similarity or pair-classification); "
                          f"{run.run_dir} is {run.task.name}")
    tokens = [run.vocab.tokenize(text) for text in texts]
    empty = [i + 1 for i, row in enumerate(tokens) if not row]
    if empty:
        raise DataFormatError("input", empty[0], "cannot embed an empty text")
    half = (len(tokens) + 1) // 2
    first, second = tokens[:half], tokens[half:] + tokens[: half - (len(tokens) - half)]  # odd: repeat one
    rows = rows_in_memory({"tokens": first, "tokens_b": second, "line": list(range(1, half + 1))})
    split = run.task.encode(rows, run.vocab, None, "input", 0, run.config.encoder.chars)
    vectors = None
    for index, _, outputs in batch_outputs(run.model, run.task, split, batch_size):
        both = outputs["embedding"]
        if vectors is None:
            vectors = torch.empty(2 * half, both.shape[1])
        vectors[index], vectors[index + half] = both[: len(index)], both[len(index) :]
    return vectors[: len(texts)] if vectors is not None else torch.empty(0)


def row_error(sides: list[list[str]], pair: bool, limit: int) -> str | None:
    if pair and len(sides) != 2:
        return f"expected two tab-separated texts, got {len(sides)} field(s)"
    for side, tokens in zip("ab", sides):
        error = "empty input" if not tokens else None
        if limit and len(tokens) > limit:
            error = f"{len(tokens)} tokens, more than data.max_tokens={limit}"
        if error:
            return f"text {side}: {error}" if pair else error
    return None


def write_csv_predictions(run: LoadedRun, lines: Iterable[str], out: TextIO, batch_size: int = 256) -> None:
    """A CSV with the run's text columns (data.text) in; the same rows with the prediction's columns
    added out (label and its probability, score, tags joined by spaces, cosine)."""
    reader = csv.DictReader(lines)
    columns = [c.strip() for c in run.config.data.text.split(",")]
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise DataFormatError("stdin", 1, f"no column {missing[0]!r}; the columns are: {', '.join(reader.fieldnames or [])}")
    rows = list(reader)
    texts = ["\t".join((row[c] or "").replace("\t", " ") for c in columns) for row in rows]
    records = list(predict_lines(run, texts, batch_size))
    added = list(dict.fromkeys(k for record in records for k in flat(record)))
    writer = csv.DictWriter(out, fieldnames=[*reader.fieldnames, *added])
    writer.writeheader()
    for row, record in zip(rows, records):
        writer.writerow({**row, **flat(record)})


def flat(record: dict) -> dict:
    """A predict record as CSV cells: the texts dropped (they are the input), lists joined, the
    probability of the chosen label kept from the distribution."""
    cells = {}
    for key, value in record.items():
        if key in {"text", "a", "b", "tokens"}:
            continue
        if key == "probabilities":
            cells["probability"] = value[record["label"]]
        elif isinstance(value, list):
            cells[key] = " ".join(map(str, value))
        else:
            cells[key] = value
    return cells
