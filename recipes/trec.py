"""TREC: which of 6 coarse answer types a question asks for.

TREC has no dev split, so a seeded, stratified 10% of train is carved off and recorded in the run.
"""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, RunConfig, TrainConfig
from seqtasks.engine import pipeline

DESCRIPTION = "question type, TREC coarse (6 classes), dev carved from train"


@dataclass
class Config(RunConfig):
    """Encoder, head and training defaults: RunConfig in seqtasks/core/config.py (GloVe 50d BiLSTM, h_T)."""

    recipe: str = "trec"
    data: DataConfig = field(
        default_factory=lambda: DataConfig(dataset="trec", train="train_coarse", dev="", dev_fraction=0.1))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=30))  # short questions: ~1 s an epoch


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("trec")
