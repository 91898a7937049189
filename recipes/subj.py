"""SUBJ: is a sentence subjective or objective? No official split: 10-fold cross-validation."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, RunConfig
from seqtasks.engine import pipeline

DESCRIPTION = "subjective vs objective sentences (SUBJ), 10-fold CV"


@dataclass
class Config(RunConfig):
    """Encoder, head and training defaults: RunConfig in seqtasks/core/config.py (GloVe 50d BiLSTM, h_T)."""

    recipe: str = "subj"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="subj", train="all", folds=10))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("subj")
