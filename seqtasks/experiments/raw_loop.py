"""The yardstick for `seqtasks bench`: the training loop a person would write by hand.

Word dropout -> embedding -> dropout -> packed `nn.LSTM` -> dropout -> linear, cross-entropy, AdamW, clipping:
the same shapes, batches and optimizer as the toolkit, with none of its structure and with its
padded batches built before the clock starts, so any cost of the toolkit's data path shows up.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqtasks.data.batching import IGNORE


@dataclass
class RawBatch:
    token_ids: torch.Tensor
    lengths: torch.Tensor  # on the CPU, as pack_padded_sequence wants
    labels: torch.Tensor  # [B] or [B, T]


class RawModel(nn.Module):
    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, bidirectional: bool,
                 dropout: float, num_labels: int, per_token: bool, word_dropout: float = 0.0) -> None:
        super().__init__()
        self.word_dropout = word_dropout
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size * (2 if bidirectional else 1), num_labels)
        self.per_token = per_token

    def forward(self, batch: RawBatch) -> torch.Tensor:
        ids = batch.token_ids
        if self.training and self.word_dropout:  # real tokens -> <unk> (id 1), as the recipes train
            ids = ids.masked_fill((torch.rand(ids.shape, device=ids.device) < self.word_dropout) & (ids > 0), 1)
        x = self.dropout(self.embedding(ids))
        packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False)
        states, (h_n, _) = self.lstm(packed)
        if self.per_token:
            states, _ = pad_packed_sequence(states, batch_first=True, total_length=batch.token_ids.shape[1])
            logits = self.out(self.dropout(states))
            return nn.functional.cross_entropy(logits.flatten(0, 1), batch.labels.flatten(), ignore_index=IGNORE)
        final = torch.cat(list(h_n[-(2 if self.lstm.bidirectional else 1):]), dim=-1)
        return nn.functional.cross_entropy(self.out(self.dropout(final)), batch.labels)


def raw_steps(model: RawModel, optimizer, batches: list[RawBatch], clip_norm: float) -> float:
    model.train()
    for batch in batches:
        loss = model(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
    return loss.item()  # waits for the device
