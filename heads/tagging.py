"""Per-token tagging over every h_t: a linear layer scores each `out.states[t]` into tag logits.

Trained with token cross-entropy that ignores padding, or with `crf: true` by a linear-chain
CRF whose transitions forbid invalid moves of the tag scheme (BIO or BIOES, read off the tag
names). Decoding returns one tag per real token, never for padding.
"""
from __future__ import annotations

import torch
from torch import nn

from heads.crf import CRF, allowed_transitions
from heads.output import HeadOutput
from seqtasks.core.config import HeadConfig
from seqtasks.data.batching import IGNORE, Batch
from seqtasks.model.encoder import EncoderOutput


def tag_scheme(labels: list[str]) -> str:
    """'BIOES', 'BIO' (entity tags) or '' (plain tags such as POS), from the tag names."""
    prefixes = {label.split("-", 1)[0] for label in labels if "-" in label}
    if prefixes & {"S", "E"}:
        return "BIOES"
    return "BIO" if prefixes & {"B", "I"} else ""


class TaggingHead(nn.Module):
    OPTIONS = ("dropout", "crf")

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__()
        self.labels = list(labels)
        self.dropout = nn.Dropout(config.dropout)
        self.emit = nn.Linear(input_size, len(labels))
        self.crf = build_crf(self.labels) if config.crf else None

    def loss_terms(self, lengths: torch.Tensor) -> torch.Tensor:
        """What each row's loss averages over, for DDP's weights: its tokens under the per-token
        softmax; one sentence under a CRF (its loss is a mean over sentences)."""
        return lengths if self.crf is None else torch.ones_like(lengths)

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        emissions = self.emit(self.dropout(encoded.states))  # [B, T, K]
        loss = None
        if batch.labels is not None:
            if self.crf is not None:
                loss = self.crf.nll(emissions, batch.labels.clamp(min=0), encoded.mask)
            else:
                loss = nn.functional.cross_entropy(emissions.flatten(0, 1), batch.labels.flatten(),
                                                   ignore_index=IGNORE)
        return HeadOutput(logits=emissions, loss=loss)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        return decode_tags(emissions, mask, self.crf)


def build_crf(labels: list[str]) -> CRF:
    """A CRF whose transitions forbid the invalid moves of the labels' tag scheme (none for plain tags)."""
    scheme = tag_scheme(labels)
    return CRF(len(labels), allowed_transitions(labels, scheme) if scheme else None)


def decode_tags(emissions: torch.Tensor, mask: torch.Tensor, crf: CRF | None) -> list[list[int]]:
    """Best tag ids per row, one per real token: the CRF's Viterbi path, or each token's argmax.
    A deployed model (seqtasks/tools/deploy.py) decodes with this too, outside its graph."""
    if crf is not None:
        return crf.viterbi(emissions, mask)
    best = emissions.argmax(-1)
    return [row[:n].tolist() for row, n in zip(best, mask.sum(1).tolist())]
