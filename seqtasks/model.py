"""A model is the shared encoder plus one head, built from a RunConfig."""
from __future__ import annotations

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
