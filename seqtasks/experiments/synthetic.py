"""Synthetic long-range tasks that need no download (seed Q10, Q11, Q14).

- adding: each step carries a value v in {0, 1/9, ..., 1} and a marker bit; two steps are
  marked (one in each half) and the target is the sum of their values. Predicting the mean
  gives MSE ~0.20; a model counts an example as solved when it is within 0.04 of the sum.
- recall: the first token is one of 8 keys, followed by T - 1 distractors; the target is the
  key. Chance is 1/8. The answer sits T - 1 steps before h_T.
- gated (seed Q5): a key (one of 8, its own tokens) at step 1, then symbols from 8, one step in the
  last quarter replaced by a cue. Tagging over every h_t: each step's label is its own symbol (the
  key step's, the key), the cue step's is the key. Keys and symbols share one set of 8 labels, so a
  key that shows in h_t before the cue pulls every step's answer towards it; only the cue may let it out. Scored apart: per-step accuracy off the cue, and
  key accuracy at the cue. Chance is 1/8 for both.

Both are encoded as token ids so they go through the same encoder as text: id 0 is padding.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from heads import HeadOutput, TaggingHead
from seqtasks.core.config import RunConfig
from seqtasks.data.batching import IGNORE, Batch, EncodedSplit
from seqtasks.model.encoder import EncoderOutput, LSTMEncoder
from seqtasks.tasks import get_task
from seqtasks.tasks.inference import gather_rows
from seqtasks.tasks.model import SequenceModel

RECALL_KEYS, RECALL_DISTRACTORS = 8, 16
ADDING_LEVELS = 10
ADDING_TOLERANCE = 0.04
GATED_SYMBOLS = 8
GATED_CUE = 1 + 2 * GATED_SYMBOLS  # token id of the cue; symbol v is id 1 + v, key v is id 1 + 8 + v


def adding_problem(count: int, length: int, generator: torch.Generator) -> EncodedSplit:
    levels = torch.randint(0, ADDING_LEVELS, (count, length), generator=generator)
    half = length // 2
    first = torch.randint(0, half, (count,), generator=generator)
    second = torch.randint(half, length, (count,), generator=generator)
    marked = torch.zeros(count, length, dtype=torch.long)
    rows = torch.arange(count)
    marked[rows, first] = 1
    marked[rows, second] = 1
    token_ids = 1 + levels + ADDING_LEVELS * marked
    targets = (levels[rows, first] + levels[rows, second]).float() / (ADDING_LEVELS - 1)
    return _as_split(token_ids, targets)


def recall_task(count: int, length: int, generator: torch.Generator) -> EncodedSplit:
    keys = torch.randint(0, RECALL_KEYS, (count,), generator=generator)
    distractors = torch.randint(0, RECALL_DISTRACTORS, (count, length - 1), generator=generator)
    token_ids = torch.cat([1 + keys[:, None], 1 + RECALL_KEYS + distractors], dim=1)
    return _as_split(token_ids, keys)


def gated_task(count: int, length: int, generator: torch.Generator) -> EncodedSplit:
    symbols = torch.randint(0, GATED_SYMBOLS, (count, length), generator=generator)
    first_cue = length - max(length // 4, 1)
    cue = torch.randint(min(first_cue, length - 2), length - 1, (count,), generator=generator)  # never the last step
    rows = torch.arange(count)
    token_ids = 1 + symbols
    token_ids[:, 0] += GATED_SYMBOLS  # the key's own tokens
    token_ids[rows, cue] = GATED_CUE
    labels = symbols.clone()
    labels[rows, cue] = symbols[:, 0]
    split = _as_split(token_ids, labels.reshape(-1))
    split.token_labels = True
    return split


def cue_positions(split: EncodedSplit) -> torch.Tensor:
    """[N] the cue's step in each row of a gated split (rows of equal length)."""
    return (split.flat_ids.view(len(split), -1) == GATED_CUE).float().argmax(1)


def score_gated(model, split: EncodedSplit) -> dict[str, float]:
    paths = get_task("token-classification").predictions(model, split)
    predicted = torch.tensor([tag for path in paths for tag in path])
    correct = predicted == split.labels
    at_cue = split.flat_ids == GATED_CUE
    per_step, key = float(correct[~at_cue].float().mean()), float(correct[at_cue].float().mean())
    return {"per_step": per_step, "key": key, "accuracy": (per_step + key) / 2, "n": len(split)}


def _as_split(token_ids: torch.Tensor, targets: torch.Tensor) -> EncodedSplit:
    count, length = token_ids.shape
    return EncodedSplit(token_ids.reshape(-1), torch.arange(count + 1) * length, targets)


def score_adding(model, split: EncodedSplit) -> dict[str, float]:
    error = gather_rows(model, get_task("text-regression"), split, ("value",))["value"] - split.labels
    return {"mse": float(error.square().mean()), "accuracy": float((error.abs() < ADDING_TOLERANCE).float().mean()),
            "n": len(split)}


class CueBalancedTagging(TaggingHead):
    """The gated task's loss: the mean over the steps off the cue plus the mean over the cue steps.
    As a plain token mean the one key per row weighs 1/T, and the LSTM never learned the key at T=50
    (most likely because Adam's second moments, filled by the early per-step gradients, keep the key's
    updates small for the whole budget); with this loss it does, as it does when only the cue is scored."""

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        emissions = self.emit(self.dropout(encoded.states))
        loss = None
        if batch.labels is not None:
            losses = nn.functional.cross_entropy(emissions.flatten(0, 1), batch.labels.flatten(), ignore_index=IGNORE,
                                                 reduction="none")
            real, cue = batch.labels.flatten() != IGNORE, (batch.token_ids == GATED_CUE).flatten()
            loss = losses[real & ~cue].mean() + losses[cue].mean()
        return HeadOutput(logits=emissions, loss=loss)


@dataclass(frozen=True)
class SyntheticTask:
    generate: Callable[[int, int, torch.Generator], EncodedSplit]  # (rows, T, generator) -> split
    vocab_size: int
    kind: str  # the kind of task (seqtasks/tasks) whose model and predictions it uses
    labels: list[str]
    score: Callable | None = None  # (model, split) -> dev metrics; None: the kind's own
    head: type | None = None  # a head of its own in place of the kind's default

    def build_model(self, config: RunConfig) -> SequenceModel:
        """The encoder, then the kind's head (or this task's own) built onto it."""
        task, encoder = get_task(self.kind), LSTMEncoder.from_config(config.encoder, self.vocab_size)
        head = (self.head(encoder.output_size, self.labels, config.head) if self.head is not None
                else task.build_head(config, encoder.output_size, self.labels))
        return SequenceModel(encoder, head, embeds=task.pair)

    def scorer(self) -> Callable:
        return self.score or (lambda model, split: get_task(self.kind).score(model, split, self.labels))


TASKS = {
    "adding": SyntheticTask(adding_problem, 1 + 2 * ADDING_LEVELS, "text-regression", [], score_adding),
    "recall": SyntheticTask(recall_task, 1 + RECALL_KEYS + RECALL_DISTRACTORS, "text-classification",
                            [f"key{k}" for k in range(RECALL_KEYS)]),
    "gated": SyntheticTask(gated_task, 1 + GATED_CUE, "token-classification",
                           [f"s{v}" for v in range(GATED_SYMBOLS)], score_gated, CueBalancedTagging),
}
