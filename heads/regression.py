"""Scalar regression from a pooled vector (h_T by default), trained with mean squared error."""
from __future__ import annotations

from torch import nn

from heads.output import HeadOutput
from heads.pooling import POOLING_OPTIONS, build_pooling
from seqtasks.core.config import HeadConfig
from seqtasks.data.batching import Batch
from seqtasks.model.encoder import EncoderOutput


class RegressionHead(nn.Module):
    OPTIONS = (*POOLING_OPTIONS, "dropout")

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__()
        self.pool = build_pooling(config.pooling, input_size, config)
        self.penalty = config.attention_penalty
        self.out = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(self.pool.output_size, 1))

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        pooled = self.pool(encoded)
        prediction = self.out(pooled.vector).squeeze(-1)  # [B]
        loss = None if batch.labels is None else nn.functional.mse_loss(prediction, batch.labels.float())
        return HeadOutput(value=prediction, loss=pooled.regularise(loss, self.penalty), attention=pooled.weights)
