"""Several tasks' training splits as one stream of batches: which task each batch comes from is a
sampling rule over the tasks' sizes n_i (their training batches in an epoch).

- proportional: every batch of every task once per epoch, in a shuffled order (p_i = n_i / sum n);
- uniform: p_i = 1 / k, the small tasks' batches repeated, the large ones' not all seen;
- temperature: p_i proportional to n_i^(1/T), between the two (T=1 is proportional, large T uniform),
  as multi-task and multilingual training use it to keep large tasks from drowning small ones.

An epoch is sum n_i batches under every rule. The draws depend only on (seed, epoch), like the
single-task batch order, so --resume continues a multi-task run exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from seqtasks.core.config import TrainConfig
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import Batch, EncodedPairs, EncodedSplit, bucketed_batches

SAMPLINGS = ("proportional", "uniform", "temperature")
Split = EncodedSplit | EncodedPairs
Key = tuple[int, torch.Tensor]  # (task position, row indices of its split)


def sampling_probabilities(sizes: list[int], sampling: str, temperature: float = 2.0) -> torch.Tensor:
    if sampling not in SAMPLINGS:
        raise ConfigError(f"sampling={sampling!r}: expected one of {', '.join(SAMPLINGS)}")
    if sampling == "temperature" and temperature <= 0:
        raise ConfigError(f"temperature={temperature}: must be above 0")
    n = torch.tensor(sizes, dtype=torch.float64)
    weights = {"proportional": n, "uniform": torch.ones_like(n), "temperature": n ** (1 / temperature)}[sampling]
    return weights / weights.sum()


def draw_tasks(sizes: list[int], sampling: str, temperature: float, generator: torch.Generator) -> list[int]:
    """The task of each of an epoch's sum(sizes) batches."""
    if sampling == "proportional":
        order = torch.cat([torch.full((size,), task) for task, size in enumerate(sizes)])
        return order[torch.randperm(len(order), generator=generator)].tolist()
    probabilities = sampling_probabilities(sizes, sampling, temperature)
    return torch.multinomial(probabilities, sum(sizes), replacement=True, generator=generator).tolist()


@dataclass
class TaskMixture:
    names: list[str]
    splits: list[Split]
    sampling: str = "proportional"
    temperature: float = 2.0

    def own_batches(self, config: TrainConfig, epoch: int) -> list[list[torch.Tensor]]:
        """Each task's batches of an epoch, in its own length-bucketed order."""
        return [bucketed_batches(split.lengths, config.batch_size,
                                 torch.Generator().manual_seed(config.seed * 100_003 + epoch * 101 + task),
                                 config.bucket_pool)
                for task, split in enumerate(self.splits)]

    def sizes(self, config: TrainConfig) -> list[int]:
        """n_i: each task's training batches in an epoch."""
        return [len(batches) for batches in self.own_batches(config, 0)]

    def epoch_batches(self, config: TrainConfig, epoch: int) -> list[Key]:
        """A task drawn more often than it has batches starts its order again."""
        own = self.own_batches(config, epoch)
        generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        tasks = draw_tasks([len(batches) for batches in own], self.sampling, self.temperature, generator)
        if config.max_steps:
            tasks = tasks[: config.max_steps]
        taken = [0] * len(own)
        keys = []
        for task in tasks:
            keys.append((task, own[task][taken[task] % len(own[task])]))
            taken[task] += 1
        return keys

    def batch(self, key: Key) -> Batch:
        task, index = key
        batch = self.splits[task].batch(index)
        batch.task = self.names[task]
        return batch

    def tokens(self, keys: list[Key]) -> int:
        return int(sum(int(self.splits[task].lengths[index].sum()) for task, index in keys))
