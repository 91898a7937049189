"""A learned comparator over the two sentences' vectors, beside the cosine: features [u; v; |u-v|; u*v]
(InferSent, Conneau et al. 2017; Tai et al. 2015 use |u-v| and u*v) into a small MLP.

- `ComparatorScoreHead` (sentence similarity), after Tai et al. (2015, section 4.2): the gold score,
  placed on K evenly spaced points r_1..r_K, becomes a sparse distribution p with mass on the two
  points around it (p_floor = floor(y) - y + 1, p_floor+1 = y - floor(y)), so the expectation r.p is
  the gold score; the MLP predicts a distribution p_hat, trained by KL(p || p_hat), and the predicted
  score is r.p_hat.
- `ComparatorPairHead` (pair classification): with two labels the MLP gives the log-odds of the second;
  with more (entailment, neutral, contradiction) a logit per label, trained by cross-entropy.

Both keep `embed` (the pooled vector) and report the cosine of u and v, so `similarity` and `embed`
work as with the cosine heads, while predict and evaluate write the comparator's score.
"""
from __future__ import annotations

import torch
from torch import nn

from heads.cosine import CosineHead, binary_logits
from heads.output import HeadOutput
from seqtasks.core.config import HeadConfig
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import Batch
from seqtasks.model.encoder import EncoderOutput


class Comparator(CosineHead):
    OPTIONS = (*CosineHead.OPTIONS, "hidden_size")
    outputs = 1

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        super().__init__(input_size, labels, config)
        width = self.pool.output_size
        hidden = config.hidden_size or 150
        self.mlp = nn.Sequential(nn.Linear(4 * width, hidden), nn.Tanh(), nn.Dropout(config.dropout),
                                 nn.Linear(hidden, self.outputs))

    def compare(self, encoded: EncoderOutput):
        """(MLP output [B, outputs], cosine of u and v [B], the pooling)."""
        pooled = self.pool(encoded)
        u, v = self.dropout(pooled.vector).chunk(2)
        features = torch.cat([u, v, (u - v).abs(), u * v], dim=-1)
        return self.mlp(features), nn.functional.cosine_similarity(u, v, dim=-1), pooled


class ComparatorScoreHead(Comparator):
    OPTIONS = (*Comparator.OPTIONS, "score_levels")

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        if config.score_levels < 2:
            raise ConfigError(f"head.score_levels={config.score_levels}: needs at least 2 points")
        self.outputs = config.score_levels
        super().__init__(input_size, labels, config)

    def target_distribution(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores in [0, 1] -> [B, K] sparse distributions over the K points whose expectation is the score."""
        position = scores.clamp(0, 1) * (self.outputs - 1)  # in [0, K-1]
        low = position.floor().clamp(max=self.outputs - 2).long()
        upper = position - low  # mass on the point above
        target = torch.zeros(len(scores), self.outputs, device=scores.device, dtype=torch.float32)
        target.scatter_(1, low[:, None], (1 - upper)[:, None].float())
        target.scatter_add_(1, (low + 1)[:, None], upper[:, None].float())
        return target

    def points(self, device) -> torch.Tensor:
        return torch.linspace(0, 1, self.outputs, device=device)

    def target(self, scores: torch.Tensor) -> torch.Tensor:
        return scores

    def score(self, predicted: torch.Tensor) -> torch.Tensor:
        return predicted.clamp(0, 1)

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        logits, cosine, pooled = self.compare(encoded)
        log_probabilities = logits.float().log_softmax(-1)
        predicted = log_probabilities.exp() @ self.points(logits.device)  # [B]: the expected score
        loss = None
        if batch.labels is not None:
            loss = nn.functional.kl_div(log_probabilities, self.target_distribution(batch.labels), reduction="batchmean")
        return HeadOutput(value=predicted, loss=pooled.regularise(loss, self.penalty), attention=pooled.weights,
                          cosine=cosine)


class ComparatorPairHead(Comparator):
    def __init__(self, input_size: int, labels: list[str], config: HeadConfig) -> None:
        self.outputs = 1 if len(labels) == 2 else len(labels)
        super().__init__(input_size, labels, config)

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        """logits [B, K] over the labels. Two labels are one output, the log-odds of the second, trained with
        a binary loss; its logits are [0, log-odds], whose softmax is the same decision."""
        output, cosine, pooled = self.compare(encoded)
        loss = None
        if self.outputs == 1:
            log_odds = output.squeeze(-1)
            if batch.labels is not None:
                loss = nn.functional.binary_cross_entropy_with_logits(log_odds, batch.labels.float())
            logits = binary_logits(log_odds)
        else:
            logits = output
            if batch.labels is not None:
                loss = nn.functional.cross_entropy(logits, batch.labels)
        return HeadOutput(logits=logits, loss=pooled.regularise(loss, self.penalty), attention=pooled.weights,
                          cosine=cosine)
