"""Text classification: one label per text (sst2, trec, mr, ...), from a pooled vector (h_T by default)."""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from heads import ClassificationHead
from seqtasks.tasks.base import Task
from seqtasks.tasks.inference import gather_rows
from seqtasks.tasks.metrics import classification_metrics


class TextClassification(Task):
    name = "text-classification"
    description = "one label per text"
    gold = "label"
    heads: ClassVar[dict[str, type]] = {"classification": ClassificationHead}
    default_head = "classification"

    def outputs(self, model, encoded, output) -> dict[str, torch.Tensor]:
        named = {"probabilities": output.logits.softmax(-1)}
        if output.attention is not None:
            named["attention"] = output.attention  # [B, heads, T]
        return named

    def predictions(self, model, split) -> torch.Tensor:
        """Probabilities [N, K]."""
        return gather_rows(model, self, split, ("probabilities",))["probabilities"]

    def metrics(self, split, predictions, labels) -> dict:
        return classification_metrics(split.labels.tolist(), predictions.argmax(-1).tolist())

    def record(self, texts, tokens, predictions, row, labels) -> dict:
        probabilities = predictions[row].tolist()
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        return {"text": texts[0], "label": labels[best],
                "probabilities": {label: round(p, 6) for label, p in zip(labels, probabilities)}}

    def headline(self, record: dict) -> str:
        return f"{record['label']} ({record['probabilities'][record['label']]:.3f})"

    def example_losses(self, model, output, gold):
        return nn.functional.cross_entropy(output.logits, gold, reduction="none")

    def shown(self, model, output, gold, position, labels):
        return labels[int(gold[position])], labels[int(output.logits[position].argmax())]
