"""Character features: a word's spelling, so words outside the vocabulary still get a representation.

Characters are UTF-8 bytes (id = byte + 1, 0 = padding): a fixed alphabet needs no vocabulary file
in the run folder and never meets an unknown character. A batch carries each distinct word form
once (`WordChars.spellings`) plus an index from every position to its form, so the CNN runs once
per form in the batch rather than once per token (Zipf: far fewer forms than tokens).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

MAX_BYTES = 20  # longer words keep their first and last 10 bytes: prefixes and suffixes carry the signal


@dataclass(frozen=True)
class WordChars:
    spellings: torch.Tensor  # [U, MAX_BYTES] byte ids of the distinct forms, 0 = padding
    index: torch.Tensor  # [B, T] the form at every position (any form at padding)

    def to(self, device: torch.device | str) -> WordChars:
        return WordChars(self.spellings.to(device, non_blocking=True), self.index.to(device, non_blocking=True))


def spell(forms: Sequence[str]) -> torch.Tensor:
    """Word forms -> [N, MAX_BYTES] byte ids."""
    table = np.zeros((len(forms), MAX_BYTES), dtype=np.int64)
    half = MAX_BYTES // 2
    for row, form in enumerate(forms):
        raw = form.encode("utf-8")
        if len(raw) > MAX_BYTES:
            raw = raw[:half] + raw[-half:]
        table[row, : len(raw)] = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) + 1
    return torch.from_numpy(table)


def number_forms(sentences: Sequence[Sequence[str]]) -> tuple[list[int], list[str]]:
    """Every token's form id (flat, in order) and the distinct forms."""
    ids: dict[str, int] = {}
    flat = [ids.setdefault(token, len(ids)) for sentence in sentences for token in sentence]
    return flat, list(ids)


def chars_for(index: torch.Tensor, spellings: torch.Tensor) -> WordChars:
    """A batch's WordChars from its [B, T] form ids into a split-wide spelling table."""
    distinct, inverse = torch.unique(index, return_inverse=True)
    return WordChars(spellings[distinct], inverse)


def chars_of(sentences: Sequence[Sequence[str]], width: int) -> WordChars:
    """WordChars for raw token lists, padded to `width` positions (for encode and predict)."""
    flat, forms = number_forms(sentences)
    index = torch.zeros(len(sentences), width, dtype=torch.long)
    start = 0
    for row, sentence in enumerate(sentences):
        index[row, : len(sentence)] = torch.tensor(flat[start : start + len(sentence)], dtype=torch.long)
        start += len(sentence)
    return WordChars(spell(forms), index)


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
