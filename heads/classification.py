"""Sequence classification: pooled vector (h_T by default) -> small MLP -> logits."""
from __future__ import annotations

from torch import nn

from heads.output import HeadOutput
from heads.pooling import POOLING_OPTIONS, build_pooling
from seqtasks.core.config import HeadConfig
from seqtasks.data.batching import Batch
from seqtasks.model.encoder import EncoderOutput


class ClassificationHead(nn.Module):
    OPTIONS = (*POOLING_OPTIONS, "hidden_size", "dropout")

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__()
        self.pool = build_pooling(config.pooling, input_size, config)
        self.penalty = config.attention_penalty
        input_size = self.pool.output_size
        layers: list[nn.Module] = [nn.Dropout(config.dropout)]
        if config.hidden_size:
            layers += [nn.Linear(input_size, config.hidden_size), nn.Tanh(), nn.Dropout(config.dropout)]
            input_size = config.hidden_size
        layers.append(nn.Linear(input_size, len(labels)))
        self.mlp = nn.Sequential(*layers)

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        pooled = self.pool(encoded)
        logits = self.mlp(pooled.vector)
        loss = None if batch.labels is None else nn.functional.cross_entropy(logits, batch.labels)
        return HeadOutput(logits=logits, loss=pooled.regularise(loss, self.penalty), attention=pooled.weights)
