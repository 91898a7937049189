"""Text classification on your own file: a CSV/TSV, JSON Lines, Parquet or saved dataset with a text
column and a label column, e.g.
    seqtasks train text-classification --set data.train=tickets.csv --set data.text=body --set data.label=team
Without data.dev a seeded, stratified 10% of train is the dev split. The model is sst2's default."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, RunConfig
from seqtasks.engine import pipeline

DESCRIPTION = "your own file: one label per text (data.text, data.label)"


@dataclass
class Config(RunConfig):
    recipe: str = "text-classification"
    task: str = "text-classification"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="", train="", dev=""))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("text-classification")
