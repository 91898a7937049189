"""The one inference loop: an encoded split through a model in length-sorted batches. Scoring,
predict, explain and the benchmark all go through it, so they batch, move to the device and
map rows back the same way.

`batch_outputs` serves both backends: a SequenceModel and a deployed model (seqtasks/tools/deploy.py)
each answer `outputs(batch, task)` with the task's named tensors (the ONNX graph's outputs), so
everything after the forward pass is one code path whichever runtime computed it.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from heads import HeadOutput
from seqtasks.data.batching import Batch, EncodedPairs, EncodedSplit, bucketed_batches
from seqtasks.model.encoder import EncoderOutput
from seqtasks.tasks.model import SequenceModel

if TYPE_CHECKING:
    from seqtasks.tasks.base import Task

Split = EncodedSplit | EncodedPairs


@torch.inference_mode()
def run_batches(model: SequenceModel, split: Split, batch_size: int = 256, with_labels: bool = False
                ) -> Iterator[tuple[torch.Tensor, Batch, EncoderOutput, HeadOutput]]:
    """(row indices [B], batch, encoder output, head output) per batch, for what needs the torch
    model's insides (explain). Without labels the head computes no loss (a CRF's partition
    function is not free)."""
    model.eval()
    device = next(model.parameters()).device
    for index in bucketed_batches(split.lengths, batch_size):
        batch = split.batch(index)
        if not with_labels:
            batch.labels = None
        batch = batch.to(device)
        encoded = model.encode(batch)
        yield index, batch, encoded, model.head(encoded, batch)


def batch_outputs(model, task: Task, split: Split, batch_size: int = 256
                  ) -> Iterator[tuple[torch.Tensor, Batch, dict[str, torch.Tensor]]]:
    """(row indices [B], batch, the task's named outputs as float CPU tensors) per batch, from
    either backend."""
    for index in bucketed_batches(split.lengths, batch_size):
        batch = split.batch(index)
        batch.labels = None
        yield index, batch, model.outputs(batch, task)


def gather_rows(model, task: Task, split: Split, names: tuple[str, ...], batch_size: int = 256
                ) -> dict[str, torch.Tensor]:
    """Per-row outputs {name: [N, ...]} in the split's row order (outputs with a row per input row);
    a name the model does not output is an empty tensor."""
    rows: dict[str, torch.Tensor] = {}
    for index, _, outputs in batch_outputs(model, task, split, batch_size):
        for name in (n for n in names if n in outputs):
            values = outputs[name]
            if name not in rows:
                rows[name] = torch.empty((len(split), *values.shape[1:]))
            rows[name][index] = values
    return {name: rows.get(name, torch.empty(0)) for name in names}
