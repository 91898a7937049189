"""Cosine-similarity matching: both sentences through the same encoder (one call over 2B rows), each
pooled to a vector, compared by their cosine. Two heads share that trunk:

- `CosineScoreHead` (sentence similarity): the cosine regresses onto the gold score in [0, 1]
  mapped to [cosine_floor, 1], by mean squared error.
- `CosinePairHead` (pair classification, e.g. paraphrase): p = sigmoid(scale * (cos - threshold)),
  scale and threshold learned, so the decision boundary is a cosine a person can read off the run.

heads/comparator.py compares the same two vectors with a learned layer instead.
"""
from __future__ import annotations

import torch
from torch import nn

from heads.output import HeadOutput
from heads.pooling import POOLING_OPTIONS, Pooled, build_pooling
from seqtasks.core.config import HeadConfig
from seqtasks.core.errors import ConfigError
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

    def cosine(self, encoded: EncoderOutput) -> tuple[torch.Tensor, Pooled, tuple[torch.Tensor, torch.Tensor]]:
        """The cosine [B] of each pair, the pooling, and the two vectors [B, D] it compared (after dropout)."""
        pooled = self.pool(encoded)
        first, second = self.dropout(pooled.vector).chunk(2)
        return nn.functional.cosine_similarity(first, second, dim=-1), pooled, (first, second)


class CosineScoreHead(CosineHead):
    """objective "mse": the cosine regresses onto the score mapped to [cosine_floor, 1]. objective
    "cosent": only the order of the cosines is trained (CoSENT), so the score is the cosine mapped
    monotonically to [0, 1] and its MSE means little; Pearson and Spearman are what it is for.
    objective "angle": CoSENT plus AnglE's ranking of angle differences (angle_similarity)."""

    OPTIONS = (*CosineHead.OPTIONS, "cosine_floor", "objective")
    OBJECTIVES = ("mse", "cosent", "angle")

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__(input_size, labels, config)
        if config.objective not in self.OBJECTIVES:
            raise ConfigError(f"head.objective={config.objective!r}: expected one of {', '.join(self.OBJECTIVES)}")
        self.objective = config.objective
        self.floor = config.cosine_floor if config.objective == "mse" else -1.0
        if config.objective == "angle" and self.pool.output_size % 2:
            raise ConfigError(f"head.objective=angle reads each sentence vector as complex numbers (two halves), "
                              f"but this one has an odd size, {self.pool.output_size}")

    def target(self, scores: torch.Tensor) -> torch.Tensor:
        """Gold scores in [0, 1] -> the cosine the model should produce."""
        return self.floor + (1 - self.floor) * scores

    def score(self, cosine: torch.Tensor) -> torch.Tensor:
        """The inverse of `target`: a cosine -> a predicted score in [0, 1] (clamped)."""
        return ((cosine - self.floor) / (1 - self.floor)).clamp(0, 1)

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        cosine, pooled, compared = self.cosine(encoded)
        loss = None
        if batch.labels is not None:
            if self.objective == "cosent":
                loss = cosent_loss(cosine, batch.labels)
            elif self.objective == "angle":
                loss = cosent_loss(cosine, batch.labels) + cosent_loss(angle_similarity(*compared), batch.labels,
                                                                       scale=1.0)
            else:
                loss = nn.functional.mse_loss(cosine, self.target(batch.labels))
        return HeadOutput(value=cosine, loss=pooled.regularise(loss, self.penalty), attention=pooled.weights,
                          cosine=cosine)


def binary_logits(log_odds: torch.Tensor) -> torch.Tensor:
    """[B] log-odds of the second of two labels -> [B, 2] logits whose softmax is (1 - sigmoid, sigmoid)."""
    return torch.stack([torch.zeros_like(log_odds), log_odds], dim=-1)


def cosent_loss(cosines: torch.Tensor, scores: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """CoSENT (Su 2022; sentence-transformers' CoSENTLoss, whose default scale 20 this keeps):
    log(1 + sum over pairs (i, j) with score_i > score_j of exp(scale * (cos_j - cos_i))). Only the
    order of the cosines is trained, which is what Spearman and Pearson reward."""
    differences = scale * (cosines[None, :] - cosines[:, None])  # [i, j] = scale * (cos_j - cos_i)
    ordered = scores[:, None] > scores[None, :]
    terms = torch.cat([differences.new_zeros(1), differences[ordered]])
    return torch.logsumexp(terms, dim=0)


def angle_similarity(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """AnglE's pair quantity (Li & Li 2024, "AnglE-optimized Text Embeddings", after their angle_emb code):
    each vector is read as complex numbers (first half real parts, second half imaginary), the first is
    divided by the second and scaled by the ratio of their norms, and |sum of the quotient's real and
    imaginary parts| is ranked like a cosine. The cosine's gradient vanishes where it saturates near
    +-1; this quantity's does not, which is what AnglE adds. Their in-batch negatives are left out:
    graded similarity scores name no positive pairs. [B] from two [B, 2K]."""
    a, b = first.chunk(2, dim=-1)
    c, d = second.chunk(2, dim=-1)
    squared_second = (c**2 + d**2).sum(-1, keepdim=True)
    real = (a * c + b * d) / squared_second  # (a + bi) / (c + di)
    imaginary = (b * c - a * d) / squared_second
    ratio = (a**2 + b**2).sum(-1, keepdim=True).sqrt() / squared_second.sqrt()
    return ((real + imaginary) / ratio).sum(-1).abs()


class CosinePairHead(CosineHead):
    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__(input_size, labels, config)
        self.scale = nn.Parameter(torch.tensor(10.0))
        self.threshold = nn.Parameter(torch.tensor(0.5))

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        """logits [B, 2]: [0, the log-odds that the pair is of label 1], a scaled and shifted cosine."""
        cosine, pooled, _ = self.cosine(encoded)
        log_odds = self.scale * (cosine - self.threshold)
        loss = None
        if batch.labels is not None:
            loss = nn.functional.binary_cross_entropy_with_logits(log_odds, batch.labels.float())
        return HeadOutput(logits=binary_logits(log_odds), loss=pooled.regularise(loss, self.penalty), attention=pooled.weights,
                          cosine=cosine)
