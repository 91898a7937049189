"""h_T vs mean vs max vs attention: the same encoder and budget on sst2, trec and sick, 3 seeds
each (seed Q12, Q19); writes a table of dev mean ± std and a bar plot. A smoke budget:
    seqtasks train compare-pooling --set tasks=sst2 --set seeds=1,2 --set epochs=1 --set max_steps=5
"""
from dataclasses import dataclass
from pathlib import Path

from recipes import load_recipe
from seqtasks.engine.sweep import split_list
from seqtasks.experiments import compare_pooling

DESCRIPTION = "pooling comparison: last (h_T), mean, max, attention on sst2, trec, sick (3 seeds)"
DATASET, TASK = "sst2+trec+sick", "text-classification, sentence-similarity"


@dataclass
class Config:
    recipe: str = "compare-pooling"
    tasks: str = "sst2,trec,sick"  # recipes, each trained with its own data, encoder and budget
    poolings: str = "last,mean,max,attention"
    seeds: str = "13,14,15"
    epochs: int = 0  # 0 = each task recipe's own; the same for every pooling either way
    max_steps: int = 0  # > 0 caps steps per epoch (smoke tests)
    threads: int = 0


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    task_configs = {task: load_recipe(task).Config() for task in split_list(config.tasks)}
    for task_config in task_configs.values():
        task_config.encoder.init = ""  # poolings compared over GloVe alone, as the README's table was measured
    return compare_pooling.run(config, task_configs, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("compare-pooling")
