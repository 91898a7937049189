"""Character features, the model side: a CNN over each distinct word form's bytes (data/chars.py
spells them), so words outside the vocabulary still get a representation."""
from __future__ import annotations

import torch
from torch import nn

from seqtasks.data.chars import WordChars


class CharCNN(nn.Module):
    """Byte embeddings -> one convolution -> max over the word's bytes (Ma & Hovy 2016)."""

    def __init__(self, output_size: int = 50, embedding_dim: int = 25, width: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(257, embedding_dim, padding_idx=0)
        self.conv = nn.Conv1d(embedding_dim, output_size, width, padding=width // 2)
        self.output_size = output_size

    def forward(self, chars: WordChars) -> torch.Tensor:
        """-> [B, T, output_size]"""
        features = self.conv(self.embedding(chars.spellings).transpose(1, 2))  # [U, F, L]
        padding = (chars.spellings == 0).unsqueeze(1)
        per_form = torch.tanh(features.masked_fill(padding, float("-inf")).amax(-1))  # [U, F]
        return per_form[chars.index]
