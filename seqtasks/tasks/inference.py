"""The one inference loop: an encoded split through a model in length-sorted batches. Scoring,
predict, explain and the benchmark all go through it, so they batch, move to the device and
map rows back the same way."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from heads import HeadOutput
from seqtasks.data.batching import Batch, EncodedPairs, EncodedSplit, bucketed_batches
from seqtasks.model.encoder import EncoderOutput
from seqtasks.tasks.model import SequenceModel

Split = EncodedSplit | EncodedPairs


@torch.inference_mode()
def run_batches(model: SequenceModel, split: Split, batch_size: int = 256, with_labels: bool = False
                ) -> Iterator[tuple[torch.Tensor, Batch, EncoderOutput, HeadOutput]]:
    """(row indices [B], batch, encoder output, head output) per batch. Without labels the head
    computes no loss (a CRF's partition function is not free)."""
    model.eval()
    device = next(model.parameters()).device
    for index in bucketed_batches(split.lengths, batch_size):
        batch = split.batch(index)
        if not with_labels:
            batch.labels = None
        batch = batch.to(device)
        encoded = model.encode(batch)
        yield index, batch, encoded, model.head(encoded, batch)


def gather_rows(model: SequenceModel, split: Split, extract: Callable[[HeadOutput], torch.Tensor],
                batch_size: int = 256) -> torch.Tensor:
    """A per-row tensor [N, ...] (float, on the CPU) in the split's row order, from each batch's output."""
    rows = None
    for index, _, _, output in run_batches(model, split, batch_size):
        values = extract(output).float().cpu()
        if rows is None:
            rows = torch.empty((len(split), *values.shape[1:]))
        rows[index] = values
    return rows if rows is not None else torch.empty(0)
