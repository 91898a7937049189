"""SST-2: is a movie-review sentence positive or negative? Classified from h_T."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, RunConfig
from seqtasks.engine import pipeline

DESCRIPTION = "binary sentence sentiment, SST-2 (Kim 2014 split)"


@dataclass
class Config(RunConfig):
    """Encoder, head and training defaults: RunConfig in seqtasks/config.py (GloVe 50d BiLSTM, h_T)."""

    recipe: str = "sst2"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="sst2", train="train", dev="dev"))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("sst2")
