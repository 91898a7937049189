"""Cosine-similarity matching: both sentences through the same encoder, each pooled to a vector
(h_T by default), scored by the cosine of the two.

With no labels (SICK, STS-B: gold scores in [0, 1]) the cosine regresses onto the score mapped
to the cosine's range [-1, 1] (or [cosine_floor, 1]), by mean squared error. With two labels (MRPC) it is a paraphrase
classifier p = sigmoid(scale * (cos - threshold)), scale and threshold learned, so the decision
boundary is a cosine a person can read off the run.
"""
from __future__ import annotations

import torch
from torch import nn

from heads.output import HeadOutput
from heads.pooling import build_pooling
from seqtasks.config import HeadConfig
from seqtasks.data.batching import Batch
from seqtasks.encoder import EncoderOutput


class MatchingHead(nn.Module):
    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__()
        if len(labels) not in (0, 2):
            raise ValueError(f"matching takes similarity scores or two labels (paraphrase or not); got {labels}")
        self.labels = list(labels)
        self.pool = build_pooling(config.pooling, input_size, config)
        self.penalty = config.attention_penalty
        self.dropout = nn.Dropout(config.dropout)
        self.binary = len(labels) == 2
        self.floor = config.cosine_floor
        if self.binary:
            self.scale = nn.Parameter(torch.tensor(10.0))
            self.threshold = nn.Parameter(torch.tensor(0.5))

    def target(self, scores: torch.Tensor) -> torch.Tensor:
        """Gold scores in [0, 1] -> the cosine the model should produce."""
        return self.floor + (1 - self.floor) * scores

    def score(self, cosine: torch.Tensor) -> torch.Tensor:
        """The inverse of `target`: a cosine -> a predicted score in [0, 1] (clamped)."""
        return ((cosine - self.floor) / (1 - self.floor)).clamp(0, 1)

    def embed(self, encoded: EncoderOutput) -> torch.Tensor:
        return self.pool(encoded).vector

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        pooled = self.pool(encoded)
        first, second = self.dropout(pooled.vector).chunk(2)  # the batch holds every first sentence, then every second
        cosine = nn.functional.cosine_similarity(first, second, dim=-1)
        loss = None
        if self.binary:
            scores = self.scale * (cosine - self.threshold)
            if batch.labels is not None:
                loss = nn.functional.binary_cross_entropy_with_logits(scores, batch.labels.float())
        else:
            scores = cosine
            if batch.labels is not None:
                loss = nn.functional.mse_loss(cosine, self.target(batch.labels))
        return HeadOutput(logits=scores, loss=pooled.regularise(loss, self.penalty), attention=pooled.weights)
