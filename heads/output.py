"""What every head returns."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HeadOutput:
    """Each field holds one kind of thing: class logits, or a number per row, never one in the other's place."""

    logits: torch.Tensor | None = None  # class logits: [B, K] classification and pair labels, [B, T, K] tagging
    value: torch.Tensor | None = None  # [B] a number per row: a regression's prediction, or a similarity
    #                                    head's raw output (a cosine, an expected score) that head.score maps to [0, 1]
    loss: torch.Tensor | None = None  # scalar, when the batch has labels
    attention: torch.Tensor | None = None  # [B, heads, T] attention weights, with attention pooling
    cosine: torch.Tensor | None = None  # [B] pair heads: the cosine of the two sentences' vectors
