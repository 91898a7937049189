"""CoNLL-2003 English NER: BiLSTM-CRF over every h_t, trained on BIOES, scored like conlleval."""
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

DESCRIPTION = "CoNLL-2003 English NER, BiLSTM-CRF + char CNN + GloVe, entity F1 (conlleval)"


@dataclass
class Config(RunConfig):
    recipe: str = "conll-ner"
    task: str = "token-classification"
    # the files are IOB1; the model trains on BIOES and is scored on entities
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="conll2003", train="train", dev="dev",
                                                                lowercase=False, tag_scheme="BIOES"))
    # vectors_vocab: names unseen in training but known to GloVe keep their vector (dev F1 0.913 -> 0.941)
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(hidden_size=256, dropout=0.5, chars=True,
                                                                         word_dropout=0.05, vectors_vocab=100_000))
    head: HeadConfig = field(default_factory=lambda: HeadConfig(crf=True, dropout=0.5))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=20, batch_size=32, lr=2e-3, patience=4))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("conll-ner")
