"""Cosine-similarity matching: both sentences through the same encoder (one call over 2B rows), each
pooled to a vector, compared by their cosine. Two heads share that trunk:

- `CosineScoreHead` (sentence similarity): the cosine regresses onto the gold score in [0, 1]
  mapped to [cosine_floor, 1], by mean squared error.
- `CosinePairHead` (pair classification, e.g. paraphrase): p = sigmoid(scale * (cos - threshold)),
  scale and threshold learned, so the decision boundary is a cosine a person can read off the run.
"""
from __future__ import annotations

import torch
from torch import nn

from heads.output import HeadOutput
from heads.pooling import POOLING_OPTIONS, Pooled, build_pooling
from seqtasks.core.config import HeadConfig
from seqtasks.data.batching import Batch
from seqtasks.model.encoder import EncoderOutput


class CosineHead(nn.Module):
    """The shared trunk: pool each side, cosine of the two (the batch holds every first sentence,
    then every second one)."""

    OPTIONS = (*POOLING_OPTIONS, "dropout")

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__()
        self.labels = list(labels)
        self.pool = build_pooling(config.pooling, input_size, config)
        self.penalty = config.attention_penalty
        self.dropout = nn.Dropout(config.dropout)

    def embed(self, encoded: EncoderOutput) -> torch.Tensor:
        """The pooled sentence vectors [N, D] the cosine compares (what a user indexes for search)."""
        return self.pool(encoded).vector

    def cosine(self, encoded: EncoderOutput) -> tuple[torch.Tensor, Pooled]:
        pooled = self.pool(encoded)
        first, second = self.dropout(pooled.vector).chunk(2)
        return nn.functional.cosine_similarity(first, second, dim=-1), pooled


class CosineScoreHead(CosineHead):
    OPTIONS = (*CosineHead.OPTIONS, "cosine_floor")

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__(input_size, labels, config)
        self.floor = config.cosine_floor

    def target(self, scores: torch.Tensor) -> torch.Tensor:
        """Gold scores in [0, 1] -> the cosine the model should produce."""
        return self.floor + (1 - self.floor) * scores

    def score(self, cosine: torch.Tensor) -> torch.Tensor:
        """The inverse of `target`: a cosine -> a predicted score in [0, 1] (clamped)."""
        return ((cosine - self.floor) / (1 - self.floor)).clamp(0, 1)

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        cosine, pooled = self.cosine(encoded)
        loss = None if batch.labels is None else nn.functional.mse_loss(cosine, self.target(batch.labels))
        return HeadOutput(logits=cosine, loss=pooled.regularise(loss, self.penalty), attention=pooled.weights,
                          cosine=cosine)


class CosinePairHead(CosineHead):
    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__(input_size, labels, config)
        self.scale = nn.Parameter(torch.tensor(10.0))
        self.threshold = nn.Parameter(torch.tensor(0.5))

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        """logits [B]: the log-odds that the pair is of label 1."""
        cosine, pooled = self.cosine(encoded)
        logits = self.scale * (cosine - self.threshold)
        loss = None
        if batch.labels is not None:
            loss = nn.functional.binary_cross_entropy_with_logits(logits, batch.labels.float())
        return HeadOutput(logits=logits, loss=pooled.regularise(loss, self.penalty), attention=pooled.weights,
                          cosine=cosine)
