"""Character features, the data side: a word's spelling, so words outside the vocabulary still get a representation.

Characters are UTF-8 bytes (id = byte + 1, 0 = padding): a fixed alphabet needs no vocabulary file
in the run folder and never meets an unknown character. A batch carries each distinct word form
once (`WordChars.spellings`) plus an index from every position to its form, so the CNN runs once
per form in the batch rather than once per token (Zipf: far fewer forms than tokens).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

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
