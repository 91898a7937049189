"""SICK entailment: does sentence A entail sentence B, contradict it, or neither? The same pairs as the
`sick` recipe, its other gold column; both sentences through one encoder, compared by a learned layer
over [u; v; |u-v|; u*v] (InferSent's features)."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import (
    DataConfig,
    EncoderConfig,
    HeadConfig,
    RunConfig,
    TrainConfig,
)
from seqtasks.engine import pipeline

DESCRIPTION = "SICK entailment (3 labels): a comparator over the two sentences' vectors, one shared BiLSTM + GloVe"


@dataclass
class Config(RunConfig):
    recipe: str = "sick-entailment"
    task: str = "pair-classification"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="sick", train="train", dev="trial"))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(hidden_size=128, dropout=0.3))
    head: HeadConfig = field(default_factory=lambda: HeadConfig(name="comparator", pooling="max", dropout=0.1))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40, batch_size=32, lr=1e-3, patience=6))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("sick-entailment")
