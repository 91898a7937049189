"""Raw text lines in, one JSON record per line out, in input order: one text per line, or for a
matching run two tab-separated texts per line."""
from __future__ import annotations

from itertools import islice
from typing import Iterable, Iterator

import torch

from seqtasks.chars import chars_of
from seqtasks.data.batching import Batch, pad_batch
from seqtasks.run import LoadedRun


@torch.inference_mode()
def predict_lines(run: LoadedRun, lines: Iterable[str], batch_size: int = 256) -> Iterator[dict]:
    """An empty or over-long line (more than the run's data.max_tokens) yields {"error": ...} in its
    place, so output lines stay aligned with input lines."""
    lines = iter(lines)
    limit = run.config.data.max_tokens
    while chunk := [line.rstrip("\n") for line in islice(lines, batch_size)]:
        tokens = [run.vocab.tokenize(text) for text in chunk]
        ids = [run.vocab.encode(row) for row in tokens]
        real = [i for i, row in enumerate(ids) if not length_error(row, limit)]
        answers = {}
        if real:
            token_ids, lengths = pad_batch([ids[i] for i in real])
            chars = chars_of([tokens[i] for i in real], token_ids.shape[1]) if run.config.encoder.chars else None
            batch = Batch(token_ids, lengths, None, torch.arange(len(real)), chars)
            encoded = run.model.encode(batch)
            logits = run.model.head(encoded, batch).logits
            if hasattr(run.model.head, "decode"):  # tagging: one tag per token
                paths = run.model.head.decode(logits, encoded.mask)
                answers = {i: [run.labels.labels[t] for t in path] for i, path in zip(real, paths)}
            else:
                answers = dict(zip(real, logits.softmax(-1).tolist()))
        for i, text in enumerate(chunk):
            if i not in answers:
                yield {"text": text, "error": length_error(ids[i], limit)}
                continue
            if hasattr(run.model.head, "decode"):
                yield {"text": text, "tokens": run.vocab.tokenize(text), "tags": answers[i]}
                continue
            probs = answers[i]
            best = max(range(len(probs)), key=probs.__getitem__)
            yield {"text": text, "label": run.labels.labels[best],
                   "probabilities": {label: round(p, 6) for label, p in zip(run.labels.labels, probs)}}


def length_error(ids: list[int], limit: int) -> str | None:
    if not ids:
        return "empty input"
    if limit and len(ids) > limit:
        return f"{len(ids)} tokens, more than data.max_tokens={limit}"
    return None


@torch.inference_mode()
def predict_pairs(run: LoadedRun, lines: Iterable[str], batch_size: int = 256) -> Iterator[dict]:
    """Lines "first<TAB>second" -> their cosine, plus the predicted score in [0, 1] (SICK, STS-B
    runs) or the paraphrase label and its probability (MRPC runs). A line without exactly one tab,
    or with an empty or over-long side, yields {"error": ...} in its place."""
    head, limit = run.model.head, run.config.data.max_tokens
    lines = iter(lines)
    while chunk := [line.rstrip("\r\n") for line in islice(lines, batch_size)]:
        pairs = [line.split("\t") for line in chunk]
        errors = {i: pair_error(run, pair, limit) for i, pair in enumerate(pairs)}
        real = [i for i, error in errors.items() if error is None]
        cosines = run.model.similarity([pairs[i][0] for i in real], [pairs[i][1] for i in real]) if real else []
        answers = dict(zip(real, cosines))
        for i, line in enumerate(chunk):
            if i not in answers:
                yield {"text": line, "error": errors[i]}
                continue
            cosine = answers[i]
            record = {"a": pairs[i][0], "b": pairs[i][1], "cosine": round(cosine.item(), 6)}
            if head.binary:
                probability = torch.sigmoid(head.scale * (cosine - head.threshold)).item()
                record |= {"label": head.labels[int(probability > 0.5)], "probability": round(probability, 6)}
            else:
                record["score"] = round(head.score(cosine).item(), 6)
            yield record


def pair_error(run: LoadedRun, pair: list[str], limit: int) -> str | None:
    if len(pair) != 2:
        return f"expected two tab-separated texts, got {len(pair)} field(s)"
    for side, text in zip("ab", pair):
        if error := length_error(run.vocab.encode(run.vocab.tokenize(text)), limit):
            return f"text {side}: {error}"
    return None
