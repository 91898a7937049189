"""Token classification: a tag for every token (POS, NER), from every h_t, with an optional CRF.
Entity tags (BIO/BIOES, read off the tag names) are scored on entities like conlleval; plain tags
(POS) on token accuracy."""
from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

import torch

from heads import TaggingHead
from heads.crf import allowed_transitions
from heads.tagging import tag_scheme
from seqtasks.core.errors import DataFormatError
from seqtasks.data.tagging import bioes_to_bio
from seqtasks.model.encoder import lengths_mask
from seqtasks.tasks.base import Task
from seqtasks.tasks.inference import batch_outputs
from seqtasks.tasks.metrics import entity_metrics, token_accuracy


class TokenClassification(Task):
    name = "token-classification"
    description = "a tag for every token"
    gold = "tags"
    heads: ClassVar[dict[str, type]] = {"tagging": TaggingHead}
    default_head = "tagging"

    def label_values(self, rows) -> list[str]:
        return [tag for tags in rows[self.gold] for tag in tags]

    def strata(self, rows) -> None:
        return None

    def encode(self, rows, vocab, labels, source, max_tokens=0, chars=False):
        split = super().encode(rows, vocab, labels, source, max_tokens, chars)
        split.token_labels = True
        return split

    def encode_gold(self, rows, labels, source) -> torch.Tensor:
        tags = list(rows[self.gold])
        values = [tag for sentence in tags for tag in sentence]
        lines = [line for line, sentence in zip(rows["line"], tags) for _ in sentence]
        ids = torch.tensor(labels.encode(values, where=source, lines=lines), dtype=torch.long)
        check_scheme(ids, torch.tensor([len(t) for t in tags]), labels.labels, source, list(rows["line"]))
        return ids

    def selection_metric(self, labels) -> str:
        return "f1" if tag_scheme(labels) else "accuracy"

    def outputs(self, model, encoded, output) -> dict[str, torch.Tensor]:
        """emissions [B, T, K]; decoding (argmax or a CRF's Viterbi) is the head's, outside the graph."""
        return {"emissions": output.logits}

    def predictions(self, model, split) -> list[list[int]]:
        """Tag ids per sentence, one per real token, in row order."""
        paths: list = [None] * len(split)
        for index, batch, outputs in batch_outputs(model, self, split):
            mask = lengths_mask(batch.lengths, batch.token_ids.shape[1])
            for row, path in zip(index.tolist(), model.head.decode(outputs["emissions"], mask)):
                paths[row] = path
        return paths

    def metrics(self, split, predictions, labels) -> dict:
        predicted = [[labels[i] for i in path] for path in predictions]
        flat = [labels[i] for i in split.labels.tolist()]
        bounds = split.offsets.tolist()
        gold = [flat[start:end] for start, end in pairwise(bounds)]
        metrics = token_accuracy(gold, predicted)
        scheme = tag_scheme(labels)
        if scheme:
            to_bio = bioes_to_bio if scheme == "BIOES" else (lambda tags: tags)
            metrics = {**entity_metrics([to_bio(t) for t in gold], [to_bio(t) for t in predicted]),
                       "accuracy": metrics["accuracy"], "tokens": metrics["tokens"]}
        return metrics

    def record(self, texts, tokens, predictions, row, labels) -> dict:
        return {"text": texts[0], "tokens": tokens[0], "tags": [labels[i] for i in predictions[row]]}


def check_scheme(ids: torch.Tensor, lengths: torch.Tensor, labels: list[str], source: str, lines: list[int]) -> None:
    """Entity tags (BIO/BIOES, read off the tag names) must form valid sequences: a CRF forbids the
    other moves, so one invalid gold sentence would train on an impossible path."""
    scheme = tag_scheme(labels)
    if not scheme:
        return
    allowed, start, end = allowed_transitions(labels, scheme)
    firsts = torch.cumsum(lengths, 0) - lengths
    lasts = firsts + lengths - 1
    is_first = torch.zeros(len(ids), dtype=torch.bool)
    is_first[firsts] = True
    ok = torch.where(is_first, start[ids], allowed[ids.roll(1), ids])
    ok[lasts] &= end[ids[lasts]]
    if bool(ok.all()):
        return
    bad = int((~ok).nonzero()[0])
    row = int(torch.searchsorted(firsts, bad, right=True)) - 1
    previous = "the start" if bad == int(firsts[row]) else labels[int(ids[bad - 1])]
    raise DataFormatError(source, lines[row], f"tag {labels[int(ids[bad])]!r} after {previous} (token "
                                              f"{bad - int(firsts[row]) + 1}) is not valid {scheme}; if the file "
                                              f"is IOB1, set data.tag_scheme=BIO or BIOES to convert it")
