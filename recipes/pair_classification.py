"""Pair classification on your own file (e.g. paraphrase or duplicate questions): two text columns and a
label column with two values, e.g.
    seqtasks train pair-classification --set data.train=pairs.tsv --set data.text=question1,question2 \
        --set data.label=is_duplicate
The model is mrpc's: a learned threshold on the cosine of the two texts' vectors."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, EncoderConfig, HeadConfig, RunConfig, TrainConfig
from seqtasks.engine import pipeline

DESCRIPTION = "your own file: a label for a pair of texts (data.text=a,b)"


@dataclass
class Config(RunConfig):
    recipe: str = "pair-classification"
    task: str = "pair-classification"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="", train="", dev="", text="text_a,text_b"))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(hidden_size=128, dropout=0.3))
    head: HeadConfig = field(default_factory=lambda: HeadConfig(pooling="attention", dropout=0.1))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=15, patience=4))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("pair-classification")
