"""Pair classification: a label for a pair of texts. Two labels ("0"/"1", MRPC's paraphrase or not)
are a decision with a probability, by the cosine head or the comparator; more (SICK's entailment,
neutral, contradiction) are a distribution over them, by the comparator."""
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
        """embedding [2B, D]: every first text's vector, then every second one's; logits [B] (two labels:
        the log-odds of the second) or probabilities [B, K]."""
        named = {"embedding": model.head.embed(encoded), "cosine": output.cosine}
        if output.logits.dim() == 2:
            named["probabilities"] = output.logits.softmax(-1)
        else:
            named["logits"] = output.logits
        return named

    def predictions(self, model, split) -> torch.Tensor:
        """[N, 2]: the cosine and the log-odds of the second label; more labels: [N, 1 + K], the cosine
        and the probabilities."""
        rows = gather_rows(model, self, split, ("cosine", "logits", "probabilities"))
        answer = rows["probabilities"] if rows["probabilities"].numel() else rows["logits"]
        return torch.cat([rows["cosine"].reshape(-1, 1), answer.reshape(len(rows["cosine"]), -1)], -1)

    def metrics(self, split, predictions, labels) -> dict:
        gold = split.labels.tolist()
        if len(labels) > 2:
            return classification_metrics(gold, predictions[:, 1:].argmax(-1).tolist())
        return paraphrase_metrics(gold, (predictions[:, 1] > 0).long().tolist())

    def record(self, texts, tokens, predictions, row, labels) -> dict:
        cosine = predictions[row, 0].item()
        record = {"a": texts[0], "b": texts[1], "cosine": round(cosine, 6)}
        if len(labels) > 2:
            probabilities = predictions[row, 1:].tolist()
            best = max(range(len(labels)), key=probabilities.__getitem__)
            return {**record, "label": labels[best],
                    "probabilities": {label: round(p, 6) for label, p in zip(labels, probabilities)}}
        probability = predictions[row, 1].sigmoid().item()
        return {**record, "label": labels[int(probability > 0.5)], "probability": round(probability, 6)}

    def headline(self, record: dict) -> str:
        probability = record["probabilities"][record["label"]] if "probabilities" in record else record["probability"]
        return f"{record['label']} ({probability:.3f})"

    def example_losses(self, model, output, gold):
        if output.logits.dim() == 2:
            return nn.functional.cross_entropy(output.logits, gold, reduction="none")
        return nn.functional.binary_cross_entropy_with_logits(output.logits, gold.float(), reduction="none")

    def shown(self, model, output, gold, position, labels):
        logits = output.logits[position]
        predicted = int(logits.argmax()) if logits.dim() == 1 else int(logits > 0)
        return labels[int(gold[position])], labels[predicted]
