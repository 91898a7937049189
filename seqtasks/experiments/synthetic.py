"""Synthetic long-range tasks that need no download (seed Q10, Q11, Q14).

- adding: each step carries a value v in {0, 1/9, ..., 1} and a marker bit; two steps are
  marked (one in each half) and the target is the sum of their values. Predicting the mean
  gives MSE ~0.20; a model counts an example as solved when it is within 0.04 of the sum.
- recall: the first token is one of 8 keys, followed by T - 1 distractors; the target is the
  key. Chance is 1/8. The answer sits T - 1 steps before h_T.

Both are encoded as token ids so they go through the same encoder as text: id 0 is padding.
"""
from __future__ import annotations

import torch

from seqtasks.data.batching import EncodedSplit
from seqtasks.tasks import get_task
from seqtasks.tasks.inference import gather_rows

RECALL_KEYS, RECALL_DISTRACTORS = 8, 16
ADDING_LEVELS = 10
ADDING_TOLERANCE = 0.04


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


def _as_split(token_ids: torch.Tensor, targets: torch.Tensor) -> EncodedSplit:
    count, length = token_ids.shape
    return EncodedSplit(token_ids.reshape(-1), torch.arange(count + 1) * length, targets)


TASKS = {
    # name -> (generator, vocabulary size, kind of task, label names)
    "adding": (adding_problem, 1 + 2 * ADDING_LEVELS, "text-regression", []),
    "recall": (recall_task, 1 + RECALL_KEYS + RECALL_DISTRACTORS, "text-classification",
               [f"key{k}" for k in range(RECALL_KEYS)]),
}


def score_adding(model, split: EncodedSplit) -> dict[str, float]:
    error = gather_rows(model, get_task("text-regression"), split, ("value",))["value"] - split.labels
    return {"mse": float(error.square().mean()), "accuracy": float((error.abs() < ADDING_TOLERANCE).float().mean()),
            "n": len(split)}
