"""Text regression: one number per text (the long-range adding problem), from a pooled vector."""
from __future__ import annotations

from typing import ClassVar

import torch

from heads import RegressionHead
from seqtasks.tasks.base import ScoredTask
from seqtasks.tasks.inference import gather_rows
from seqtasks.tasks.metrics import similarity_metrics


class TextRegression(ScoredTask):
    name = "text-regression"
    description = "one number per text"
    heads: ClassVar[dict[str, type]] = {"regression": RegressionHead}
    default_head = "regression"

    def outputs(self, model, encoded, output) -> dict[str, torch.Tensor]:
        return {"value": output.value}

    def predictions(self, model, split) -> torch.Tensor:
        return gather_rows(model, self, split, ("value",))["value"]

    def metrics(self, split, predictions, labels) -> dict:
        return similarity_metrics(split.labels.tolist(), predictions.tolist())

    def record(self, texts, tokens, predictions, row, labels) -> dict:
        return {"text": texts[0], "value": round(float(predictions[row]), 6)}

    def headline(self, record: dict) -> str:
        return f"{record['value']:.3f}"

    def example_losses(self, model, output, gold):
        return (output.value - gold) ** 2

    def shown(self, model, output, gold, position, labels):
        return f"{float(gold[position]):.3f}", f"{float(output.value[position]):.3f}"
