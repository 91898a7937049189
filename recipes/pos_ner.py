"""UD-EWT part-of-speech tags and CoNLL-2003 entities from one encoder: the ud-pos and conll-ner recipes'
data and CRF heads over one BiLSTM (their shared encoder settings), batches drawn in proportion to size."""
from dataclasses import dataclass, field
from pathlib import Path

from recipes import multi_task
from seqtasks.core.config import EncoderConfig, MultiTaskConfig, TrainConfig

DESCRIPTION = "ud-pos + conll-ner, one BiLSTM-CRF encoder (multi-task)"
DATASET, TASK = "ud_english_ewt + conll2003", "token-classification x 2"


@dataclass
class Config(MultiTaskConfig):
    recipe: str = "pos-ner"
    tasks: str = "ud-pos,conll-ner"
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(hidden_size=256, dropout=0.5, chars=True,
                                                                         word_dropout=0.05, vectors_vocab=100_000))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=30, batch_size=32, lr=2e-3, lr_decay=0.1,
                                                                   patience=6))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return multi_task.main(config, run_dir, resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("pos-ner")
