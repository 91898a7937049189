"""CR: polarity of customer product reviews. No official split: 10-fold cross-validation."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, RunConfig
from seqtasks.engine import pipeline

DESCRIPTION = "customer-review polarity (CR), 10-fold CV"


@dataclass
class Config(RunConfig):
    """Encoder, head and training defaults: RunConfig in seqtasks/config.py (GloVe 50d BiLSTM, h_T)."""

    recipe: str = "cr"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="cr", train="all", folds=10))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.cross_validate(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("cr")
