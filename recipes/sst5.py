"""SST-5: fine-grained sentiment (very negative .. very positive) of movie-review sentences."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, RunConfig
from seqtasks.engine import pipeline

DESCRIPTION = "5-way sentence sentiment, SST-5 (Kim 2014 split)"


@dataclass
class Config(RunConfig):
    """Encoder, head and training defaults: RunConfig in seqtasks/core/config.py (GloVe 50d BiLSTM, h_T)."""

    recipe: str = "sst5"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="sst5", train="train", dev="dev"))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("sst5")
