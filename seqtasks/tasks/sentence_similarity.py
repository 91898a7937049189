"""Sentence similarity: a score for a pair of texts (SICK, STS-B), gold rescaled to [0, 1] by the reader."""
from __future__ import annotations

from typing import ClassVar

import torch

from heads import ComparatorScoreHead, CosineScoreHead
from seqtasks.tasks.base import ScoredTask
from seqtasks.tasks.inference import gather_rows
from seqtasks.tasks.metrics import similarity_metrics


class SentenceSimilarity(ScoredTask):
    name = "sentence-similarity"
    description = "a similarity score for a pair of texts"
    pair = True
    heads: ClassVar[dict[str, type]] = {"cosine": CosineScoreHead, "comparator": ComparatorScoreHead}
    default_head = "cosine"

    def outputs(self, model, encoded, output) -> dict[str, torch.Tensor]:
        """embedding [2B, D]: every first text's vector, then every second one's."""
        return {"embedding": model.head.embed(encoded), "cosine": output.cosine,
                "score": model.head.score(output.value)}

    def predictions(self, model, split) -> torch.Tensor:
        """[N, 2]: the cosine and the predicted score in [0, 1]."""
        rows = gather_rows(model, self, split, ("cosine", "score"))
        return torch.stack([rows["cosine"], rows["score"]], -1)

    def metrics(self, split, predictions, labels) -> dict:
        return similarity_metrics(split.labels.tolist(), predictions[:, 1].tolist())

    def record(self, texts, tokens, predictions, row, labels) -> dict:
        cosine, score = predictions[row].tolist()
        return {"a": texts[0], "b": texts[1], "cosine": round(cosine, 6), "score": round(score, 6)}

    def headline(self, record: dict) -> str:
        return f"score {record['score']:.3f}"

    def example_losses(self, model, output, gold):
        return (output.value - model.head.target(gold)) ** 2

    def shown(self, model, output, gold, position, labels):
        return f"{float(gold[position]):.2f}", f"{float(model.head.score(output.value[position])):.2f}"
