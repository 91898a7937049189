"""A model is the shared encoder plus one head, built from a RunConfig through its task."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from heads import HeadOutput
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import Batch
from seqtasks.model.encoder import EncoderOutput, LSTMEncoder

if TYPE_CHECKING:
    from seqtasks.tasks.base import Task


class SequenceModel(nn.Module):
    def __init__(self, encoder: LSTMEncoder, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.embeds = False  # set by the task: whether the head pools a sentence vector of its own

    def forward(self, batch: Batch) -> HeadOutput:
        return self.head(self.encode(batch), batch)

    def encode(self, batch: Batch) -> EncoderOutput:
        return self.encoder(batch.token_ids, batch.lengths, batch.chars)

    @torch.inference_mode()
    def outputs(self, batch: Batch, task: Task) -> dict[str, torch.Tensor]:
        """The task's named outputs for an unlabelled batch, as float CPU tensors: what the exported
        graph computes too (seqtasks/tools/deploy.py), so predictions are built the same from either."""
        self.eval()
        batch = batch.to(next(self.parameters()).device)
        encoded = self.encode(batch)
        named = task.outputs(self, encoded, self.head(encoded, batch))
        return {name: value.float().cpu() for name, value in named.items()}

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Raw texts -> the pooled vectors the head compares [N, D] (e.g. for nearest-neighbour search)."""
        if not self.embeds:
            raise ConfigError(f"a {type(self.head).__name__} pools no sentence vector; embed needs a pair task's head "
                              f"(sentence-similarity or pair-classification)")
        self.eval()
        return self.head.embed(self.encoder.encode(texts))

    def similarity(self, first: Sequence[str], second: Sequence[str]) -> torch.Tensor:
        """Cosine similarity of each first[i] with second[i], both through the same encoder in one call."""
        if len(first) != len(second):
            raise ValueError(f"similarity compares pairs: got {len(first)} and {len(second)} texts")
        vectors = self.embed([*first, *second])
        return torch.nn.functional.cosine_similarity(vectors[: len(first)], vectors[len(first) :], dim=-1)
