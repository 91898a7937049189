"""Sentence similarity on your own file: two text columns and a score column, rescaled from data.range, e.g.
    seqtasks train sentence-similarity --set data.train=sts.jsonl --set data.text=s1,s2 --set data.label=score \
        --set data.range=0,5
The model is sick's: the cosine of the two texts' max-pooled vectors regresses onto the score."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, EncoderConfig, HeadConfig, RunConfig, TrainConfig
from seqtasks.engine import pipeline

DESCRIPTION = "your own file: a similarity score for a pair of texts"


@dataclass
class Config(RunConfig):
    recipe: str = "sentence-similarity"
    task: str = "sentence-similarity"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="", train="", dev="", text="text_a,text_b", label="score"))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(hidden_size=128, dropout=0.3))
    head: HeadConfig = field(default_factory=lambda: HeadConfig(pooling="max", dropout=0.1, cosine_floor=0.0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40, patience=6))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("sentence-similarity")
