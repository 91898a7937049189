"""What every head returns."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HeadOutput:
    logits: torch.Tensor  # [B, num_labels] (classification)
    loss: torch.Tensor | None = None  # scalar, when the batch has labels
