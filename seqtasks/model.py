"""A model is the shared encoder plus one head, built from a RunConfig."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from heads import HeadOutput, get_head
from seqtasks.config import RunConfig
from seqtasks.data.batching import Batch
from seqtasks.encoder import EncoderOutput, LSTMEncoder


class SequenceModel(nn.Module):
    def __init__(self, encoder: LSTMEncoder, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, batch: Batch) -> HeadOutput:
        return self.head(self.encode(batch), batch)

    def encode(self, batch: Batch) -> EncoderOutput:
        return self.encoder(batch.token_ids, batch.lengths, batch.chars)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Raw texts -> the pooled vectors the head compares [N, D] (e.g. for nearest-neighbour search)."""
        if not hasattr(self.head, "embed"):
            raise TypeError(f"a {type(self.head).__name__} pools no sentence vector; embed needs a matching head")
        self.eval()
        return self.head.embed(self.encoder.encode(texts))

    def similarity(self, first: Sequence[str], second: Sequence[str]) -> torch.Tensor:
        """Cosine similarity of each first[i] with second[i], both through the same encoder in one call."""
        if len(first) != len(second):
            raise ValueError(f"similarity compares pairs: got {len(first)} and {len(second)} texts")
        vectors = self.embed([*first, *second])
        return torch.nn.functional.cosine_similarity(vectors[: len(first)], vectors[len(first) :], dim=-1)


def build_model(config: RunConfig, vocab_size: int, labels: list[str]) -> SequenceModel:
    """Heads get the label names, not just their number: a CRF derives its allowed moves from them."""
    e = config.encoder
    encoder = LSTMEncoder(
        vocab_size,
        e.embedding_dim,
        e.hidden_size,
        num_layers=e.num_layers,
        bidirectional=e.bidirectional,
        dropout=e.dropout,
        cell=e.cell,
        forget_bias=e.forget_bias,
        word_dropout=e.word_dropout,
        char_features=e.char_features if e.chars else 0,
    )
    head = get_head(config.head.name)(encoder.output_size, labels, config.head)
    return SequenceModel(encoder, head)
