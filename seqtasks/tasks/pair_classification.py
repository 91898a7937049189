"""Pair classification: is the second text a paraphrase of the first (MRPC)? Two labels, "0" and "1"."""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from heads import ComparatorPairHead, CosinePairHead
from seqtasks.core.errors import ConfigError
from seqtasks.tasks.base import Task
from seqtasks.tasks.inference import gather_rows
from seqtasks.tasks.metrics import paraphrase_metrics


class PairClassification(Task):
    name = "pair-classification"
    description = "one of two labels for a pair of texts (e.g. paraphrase or not)"
    pair = True
    gold = "label"
    heads: ClassVar[dict[str, type]] = {"cosine": CosinePairHead, "comparator": ComparatorPairHead}
    default_head = "cosine"

    def build_model(self, config, vocab_size, labels):
        if len(labels) != 2:
            raise ConfigError(f"{self.name} takes two labels (the second is the positive one); got {labels}")
        return super().build_model(config, vocab_size, labels)

    def outputs(self, model, encoded, output) -> dict[str, torch.Tensor]:
        """embedding [2B, D]: every first text's vector, then every second one's."""
        return {"embedding": model.head.embed(encoded), "cosine": output.cosine, "logits": output.logits}

    def predictions(self, model, split) -> torch.Tensor:
        """[N, 2]: the cosine and the log-odds of the second label."""
        rows = gather_rows(model, self, split, ("cosine", "logits"))
        return torch.stack([rows["cosine"], rows["logits"]], -1)

    def metrics(self, split, predictions, labels) -> dict:
        return paraphrase_metrics(split.labels.tolist(), (predictions[:, 1] > 0).long().tolist())

    def record(self, texts, tokens, predictions, row, labels) -> dict:
        cosine, probability = predictions[row, 0].item(), predictions[row, 1].sigmoid().item()
        return {"a": texts[0], "b": texts[1], "cosine": round(cosine, 6), "label": labels[int(probability > 0.5)],
                "probability": round(probability, 6)}

    def headline(self, record: dict) -> str:
        return f"{record['label']} ({record['probability']:.3f})"

    def example_losses(self, model, output, gold):
        return nn.functional.binary_cross_entropy_with_logits(output.logits, gold.float(), reduction="none")

    def shown(self, model, output, gold, position, labels):
        return labels[int(gold[position])], labels[int(output.logits[position] > 0)]
