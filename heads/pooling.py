"""Sequence -> vector pooling over the encoder's output, by name (POOLINGS); masked so padding never counts.

Every pooling is a module that returns `Pooled`: the vector, and for attention the weights that
made it (so they can be shown) and the Lin et al. (2017) redundancy penalty.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqtasks.core.config import HeadConfig
from seqtasks.core.errors import ConfigError
from seqtasks.model.encoder import EncoderOutput


@dataclass(frozen=True)
class Pooled:
    vector: torch.Tensor  # [B, output_size]
    weights: torch.Tensor | None = None  # [B, heads, T]: 0 at padding, each row sums to 1 over real tokens
    penalty: torch.Tensor | None = None  # ||A A^T - I||_F^2, batch mean (several heads only)

    def regularise(self, loss: torch.Tensor | None, coefficient: float) -> torch.Tensor | None:
        """loss + coefficient * penalty, when there is a loss, a penalty and a coefficient."""
        if loss is None or self.penalty is None or not coefficient:
            return loss
        return loss + coefficient * self.penalty


class LastPooling(nn.Module):
    """h_T of each row at its own length (the seed's summary vector)."""

    def __init__(self, input_size: int) -> None:
        super().__init__()
        self.output_size = input_size

    def forward(self, out: EncoderOutput) -> Pooled:
        return Pooled(out.final)


class MeanPooling(LastPooling):
    def forward(self, out: EncoderOutput) -> Pooled:
        mask = out.mask.unsqueeze(-1).to(out.states.dtype)
        return Pooled((out.states * mask).sum(1) / mask.sum(1).clamp(min=1))


class MaxPooling(LastPooling):
    def forward(self, out: EncoderOutput) -> Pooled:
        return Pooled(out.states.masked_fill(~out.mask.unsqueeze(-1), float("-inf")).amax(1))


class AttentionPooling(nn.Module):
    """Additive attention over every h_t: score_t = v^T tanh(W h_t + b), softmax over real tokens.

    With several heads (rows of v, Lin et al. 2017's structured self-attentive embedding) the
    context vectors are concatenated, and `penalty` = ||A A^T - I||_F^2 pushes the heads to
    attend to different tokens when the head config gives it a coefficient.
    """

    def __init__(self, input_size: int, attention_size: int = 64, heads: int = 1) -> None:
        super().__init__()
        self.project = nn.Linear(input_size, attention_size)
        self.score = nn.Linear(attention_size, heads, bias=False)
        self.heads = heads
        self.output_size = input_size * heads

    def forward(self, out: EncoderOutput) -> Pooled:
        scores = self.score(torch.tanh(self.project(out.states)))  # [B, T, heads]
        scores = scores.masked_fill(~out.mask.unsqueeze(-1), float("-inf"))
        weights = scores.softmax(dim=1).transpose(1, 2)  # [B, heads, T]; exp(-inf) = 0 at padding
        vector = (weights @ out.states).flatten(1)  # [B, heads * D]
        penalty = None
        if self.heads > 1:
            identity = torch.eye(self.heads, device=weights.device, dtype=weights.dtype)
            penalty = ((weights @ weights.transpose(1, 2) - identity) ** 2).sum((1, 2)).mean()
        return Pooled(vector, weights, penalty)


POOLING_OPTIONS = ("pooling", "attention_size", "attention_heads", "attention_penalty")
POOLINGS = {"last": LastPooling, "mean": MeanPooling, "max": MaxPooling, "attention": AttentionPooling}


def build_pooling(name: str, input_size: int, config: HeadConfig) -> nn.Module:
    if name not in POOLINGS:
        raise ConfigError(f"unknown pooling {name!r}; valid poolings: {', '.join(POOLINGS)}")
    if name == "attention":
        return AttentionPooling(input_size, config.attention_size, config.attention_heads)
    return POOLINGS[name](input_size)
