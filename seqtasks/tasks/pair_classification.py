"""Pair classification: a label for a pair of texts, as a distribution over the labels: two ("0"/"1",
MRPC's paraphrase or not) by the cosine head or the comparator, more (SICK's entailment, neutral,
contradiction) by the comparator. Every head gives logits [B, K], so nothing here depends on how many."""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from heads import ComparatorPairHead, CosinePairHead
from seqtasks.core.errors import ConfigError
from seqtasks.tasks.base import Task
from seqtasks.tasks.inference import gather_rows
from seqtasks.tasks.metrics import classification_metrics, paraphrase_metrics


class PairClassification(Task):
    name = "pair-classification"
    description = "a label for a pair of texts (paraphrase or not; entailment, neutral or contradiction)"
    pair = True
    gold = "label"
    heads: ClassVar[dict[str, type]] = {"cosine": CosinePairHead, "comparator": ComparatorPairHead}
    default_head = "cosine"

    def build_head(self, config, input_size, labels):
        if len(labels) < 2:
            raise ConfigError(f"{self.name} needs at least two labels; got {labels}")
        if len(labels) > 2 and self.head_class(config.head) is CosinePairHead:
            raise ConfigError(f"the cosine head decides between two labels; for {len(labels)} ({', '.join(labels)}) "
                              f"use --set head.name=comparator")
        return super().build_head(config, input_size, labels)

    def outputs(self, model, encoded, output) -> dict[str, torch.Tensor]:
        """embedding [2B, D]: every first text's vector, then every second one's; cosine [B];
        probabilities [B, K] over the labels."""
        return {"embedding": model.head.embed(encoded), "cosine": output.cosine,
                "probabilities": output.logits.float().softmax(-1)}

    def predictions(self, model, split) -> torch.Tensor:
        """[N, 1 + K]: the cosine, then the probability of each label."""
        rows = gather_rows(model, self, split, ("cosine", "probabilities"))
        return torch.cat([rows["cosine"].reshape(-1, 1), rows["probabilities"]], -1)

    def metrics(self, split, predictions, labels) -> dict:
        """Two labels (a paraphrase or not) also report the F1 of the second, as MRPC is scored."""
        gold, predicted = split.labels.tolist(), predictions[:, 1:].argmax(-1).tolist()
        return paraphrase_metrics(gold, predicted) if len(labels) == 2 else classification_metrics(gold, predicted)

    def record(self, texts, tokens, predictions, row, labels) -> dict:
        probabilities = predictions[row, 1:].tolist()
        best = max(range(len(labels)), key=probabilities.__getitem__)
        return {"a": texts[0], "b": texts[1], "cosine": round(predictions[row, 0].item(), 6), "label": labels[best],
                "probabilities": {label: round(p, 6) for label, p in zip(labels, probabilities)}}

    def headline(self, record: dict) -> str:
        return f"{record['label']} ({record['probabilities'][record['label']]:.3f})"

    def example_losses(self, model, output, gold):
        return nn.functional.cross_entropy(output.logits.float(), gold, reduction="none")

    def shown(self, model, output, gold, position, labels):
        return labels[int(gold[position])], labels[int(output.logits[position].argmax())]
