"""An exponential moving average of the weights (Polyak averaging), scored and saved in their place.

Dev scores of small datasets swing by a point from one epoch to the next (sst2's 872 sentences,
trec's 545 questions): the weights at an epoch's end are one noisy point on the optimizer's path.
The average of the recent path sits nearer the middle of the basin it wanders in, scores more
steadily, and is the model early stopping selects and `best.safetensors` holds. Training itself
steps the raw weights, so the optimizer is unchanged.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from seqtasks.core.errors import ConfigError


class WeightAverage:
    """shadow <- decay_t * shadow + (1 - decay_t) * weights after every step, with
    decay_t = min(decay, (1 + t) / (10 + t)), so the first steps' random weights fade within a
    few dozen steps instead of a few thousand (the warm-up timm and TensorFlow use)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"train.average={decay}: the decay of the weight average lies in (0, 1), e.g. 0.99; 0 turns it off")
        self.decay = decay
        self.names = [name for name, _ in model.named_parameters()]
        self.weights = [parameter for _, parameter in model.named_parameters()]
        self.shadow = [parameter.detach().clone() for parameter in self.weights]
        self.steps = 0

    @torch.no_grad()
    def update(self) -> None:
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        torch._foreach_lerp_(self.shadow, self.weights, 1.0 - decay)  # under no_grad: no copies, no graph

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its own again after it."""
        with torch.no_grad():
            trained = [w.detach().clone() for w in self.weights]
            torch._foreach_copy_(self.weights, self.shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.weights, trained)

    def tensors(self) -> dict[str, torch.Tensor]:
        """For the resume state: one tensor per parameter, and the step count the warm-up reads."""
        state = {f"average.{name}": shadow for name, shadow in zip(self.names, self.shadow, strict=True)}
        state["average_steps"] = torch.tensor(self.steps)
        return state

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, shadow in zip(self.names, self.shadow, strict=True):
                shadow.copy_(tensors[f"average.{name}"])
        self.steps = int(tensors["average_steps"])
