"""Token classification on your own CoNLL-style column file (or CoNLL-U), e.g.
    seqtasks train token-classification --set data.train=my.conll --set data.dev=my-dev.conll \
        --set data.columns=word,pos,ner --set data.label=ner
The model is conll-ner's (BiLSTM-CRF, char CNN, GloVe); case is kept."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, EncoderConfig, HeadConfig, RunConfig, TrainConfig
from seqtasks.engine import pipeline

DESCRIPTION = "your own CoNLL-style or CoNLL-U file: a tag per token"


@dataclass
class Config(RunConfig):
    recipe: str = "token-classification"
    task: str = "token-classification"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="", train="", dev="", lowercase=False))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(hidden_size=256, chars=True, word_dropout=0.05))
    head: HeadConfig = field(default_factory=lambda: HeadConfig(crf=True))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=20, lr=2e-3, patience=4))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("token-classification")
