"""What every head returns."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HeadOutput:
    logits: torch.Tensor  # [B, K] classification, [B, T, K] tagging, [B] regression and pair heads
    loss: torch.Tensor | None = None  # scalar, when the batch has labels
    attention: torch.Tensor | None = None  # [B, heads, T] attention weights, with attention pooling
    cosine: torch.Tensor | None = None  # [B] pair heads: the cosine of the two sentences' vectors
