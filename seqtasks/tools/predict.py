"""Raw text lines in, one JSON record per line out, in input order: one text per line, or for a
pair task two tab-separated texts per line. What a record holds is the task's (seqtasks/tasks)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from datasets import Dataset

from seqtasks.engine.run import LoadedRun


def predict_lines(run: LoadedRun, lines: Iterable[str], batch_size: int = 256) -> Iterator[dict]:
    """An empty or over-long text (more than the run's data.max_tokens), or a pair line without
    exactly one tab, yields {"error": ...} in its place, so output lines stay aligned with input lines."""
    task, limit = run.task, run.config.data.max_tokens
    lines = iter(lines)
    while chunk := [line.rstrip("\r\n") for line in islice(lines, batch_size)]:
        texts = [line.split("\t") if task.pair else [line] for line in chunk]
        tokens = [[run.vocab.tokenize(text) for text in row] for row in texts]
        errors = {i: row_error(row, task.pair, limit) for i, row in enumerate(tokens)}
        real = [i for i, error in errors.items() if error is None]
        predictions = None
        if real:
            columns = {"tokens": [tokens[i][0] for i in real], "line": [i + 1 for i in real]}
            if task.pair:
                columns["tokens_b"] = [tokens[i][1] for i in real]
            split = task.encode(Dataset.from_dict(columns), run.vocab, None, "input", 0, run.config.encoder.chars)
            predictions = task.predictions(run.model, split)
        position = {i: n for n, i in enumerate(real)}
        for i, line in enumerate(chunk):
            if errors[i] is not None:
                yield {"text": line, "error": errors[i]}
            else:
                yield task.record(texts[i], tokens[i], predictions, position[i], run.labels.labels)


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
