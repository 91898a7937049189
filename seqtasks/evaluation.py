"""Batched inference over an encoded split, and the scores a classification run reports."""
from __future__ import annotations

import torch

from seqtasks.data.batching import EncodedSplit, bucketed_batches
from seqtasks.data.tagging import bioes_to_bio
from seqtasks.metrics import (
    classification_metrics,
    entity_metrics,
    paraphrase_metrics,
    similarity_metrics,
    token_accuracy,
)
from seqtasks.model import SequenceModel


@torch.inference_mode()
def predict_logits(model: SequenceModel, split: EncodedSplit, batch_size: int = 256) -> torch.Tensor:
    """Logits [N, C] in the split's row order (batches are length-sorted for speed); a head that
    returns one value per row (regression) gives [N, 1]."""
    model.eval()
    device = next(model.parameters()).device
    logits = None
    for index in bucketed_batches(split.lengths, batch_size):
        batch = split.batch(index)
        batch.labels = None
        out = model(batch.to(device)).logits.float().cpu()
        out = out[:, None] if out.dim() == 1 else out
        if logits is None:
            logits = torch.empty(len(split), out.shape[-1])
        logits[index] = out
    return logits


def score_classification(model: SequenceModel, split: EncodedSplit) -> dict[str, float]:
    predicted = predict_logits(model, split).argmax(-1)
    return classification_metrics(split.labels.tolist(), predicted.tolist())


@torch.inference_mode()
def predict_tags(model: SequenceModel, split: EncodedSplit, batch_size: int = 256) -> list[list[str]]:
    """Tag names per sentence, in the split's row order."""
    model.eval()
    device = next(model.parameters()).device
    names, tags = model.head.labels, [None] * len(split)
    for index in bucketed_batches(split.lengths, batch_size):
        batch = split.batch(index)
        batch.labels = None
        batch = batch.to(device)
        encoded = model.encode(batch)
        paths = model.head.decode(model.head(encoded, batch).logits, encoded.mask)
        for row, path in zip(index.tolist(), paths):
            tags[row] = [names[i] for i in path]
    return tags


def gold_tags(split: EncodedSplit, names: list[str]) -> list[list[str]]:
    flat = [names[i] for i in split.labels.tolist()]
    bounds = split.offsets.tolist()
    return [flat[start:end] for start, end in zip(bounds, bounds[1:])]


def score_tagging(model: SequenceModel, split: EncodedSplit) -> dict:
    """Token accuracy for plain tags (POS); for entity tags also conlleval-style entity P/R/F1."""
    from heads.tagging import tag_scheme

    names = model.head.labels
    predicted, gold = predict_tags(model, split), gold_tags(split, names)
    metrics = token_accuracy(gold, predicted)
    if tag_scheme(names):
        to_bio = bioes_to_bio if tag_scheme(names) == "BIOES" else (lambda tags: tags)
        metrics = {**entity_metrics([to_bio(t) for t in gold], [to_bio(t) for t in predicted]),
                   "accuracy": metrics["accuracy"], "tokens": metrics["tokens"]}
    return metrics


def score_matching(model: SequenceModel, split) -> dict[str, float]:
    """Scores: the cosine mapped back to [0, 1]; paraphrase: cosine above the learned threshold."""
    out = predict_logits(model, split)[:, 0]
    if model.head.binary:
        return paraphrase_metrics(split.labels.tolist(), (out > 0).long().tolist())
    return similarity_metrics(split.labels.tolist(), model.head.score(out).tolist())


def scorer_for(head: str, labels: list[str]):
    """(score function, the dev metric that selects the best epoch) for a head and its labels."""
    if head == "matching":
        return score_matching, "accuracy" if labels else "pearson"
    if head == "tagging":
        from heads.tagging import tag_scheme

        return score_tagging, "f1" if tag_scheme(labels) else "accuracy"
    return score_classification, "accuracy"
