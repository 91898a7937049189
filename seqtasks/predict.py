"""Raw text lines in, one JSON record per line out, in input order."""
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
        real = [i for i, row in enumerate(ids) if row and (not limit or len(row) <= limit)]
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
                error = f"{len(ids[i])} tokens, more than data.max_tokens={limit}" if ids[i] else "empty input"
                yield {"text": text, "error": error}
                continue
            if hasattr(run.model.head, "decode"):
                yield {"text": text, "tokens": run.vocab.tokenize(text), "tags": answers[i]}
                continue
            probs = answers[i]
            best = max(range(len(probs)), key=probs.__getitem__)
            yield {"text": text, "label": run.labels.labels[best],
                   "probabilities": {label: round(p, 6) for label, p in zip(run.labels.labels, probs)}}
