"""Sequence -> vector pooling over the encoder's output; masked so padding never counts."""
from __future__ import annotations

import torch

from seqtasks.encoder import EncoderOutput


def pool_last(out: EncoderOutput) -> torch.Tensor:
    """h_T of each row at its own length (the seed's summary vector)."""
    return out.final


def pool_mean(out: EncoderOutput) -> torch.Tensor:
    mask = out.mask.unsqueeze(-1).to(out.states.dtype)
    return (out.states * mask).sum(1) / mask.sum(1).clamp(min=1)


def pool_max(out: EncoderOutput) -> torch.Tensor:
    return out.states.masked_fill(~out.mask.unsqueeze(-1), float("-inf")).amax(1)


POOLINGS = {"last": pool_last, "mean": pool_mean, "max": pool_max}


def get_pooling(name: str):
    if name not in POOLINGS:
        raise ValueError(f"unknown pooling {name!r}; valid poolings: {', '.join(POOLINGS)}")
    return POOLINGS[name]
