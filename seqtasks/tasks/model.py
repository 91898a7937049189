"""A model is the shared encoder plus one head (SequenceModel), or plus a head per task (MultiTaskModel),
built from a RunConfig through its task."""
from __future__ import annotations

import dataclasses
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
    """The encoder and one head. `embeds`: whether the head pools a sentence vector of its own (the
    pair tasks' heads), which `embed` returns."""

    def __init__(self, encoder: LSTMEncoder, head: nn.Module, embeds: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.embeds = embeds

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


class MultiTaskModel(nn.Module):
    """The shared encoder and a head per task; a batch goes through the head its `task` names."""

    def __init__(self, encoder: LSTMEncoder, members: dict[str, SequenceModel], weights: dict[str, float]) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict({name: model.head for name, model in members.items()})
        self.weights = weights
        self._members = members  # views sharing these modules (a plain dict: nothing registered twice)

    def forward(self, batch: Batch) -> HeadOutput:
        output = self.heads[batch.task](self.encoder(batch.token_ids, batch.lengths, batch.chars), batch)
        weight = self.weights[batch.task]
        if output.loss is None or weight == 1.0:
            return output
        return dataclasses.replace(output, loss=output.loss * weight)

    def member(self, name: str) -> SequenceModel:
        """One task's model: the shared encoder and that task's head (the same modules, not copies)."""
        return self._members[name]
