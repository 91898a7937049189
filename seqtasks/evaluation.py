"""Batched inference over an encoded split, and the scores a classification run reports."""
from __future__ import annotations

import torch

from seqtasks.data.batching import EncodedSplit, bucketed_batches
from seqtasks.metrics import classification_metrics
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
