"""The language model sst5's encoder comes from, before sst5-lm-ft fine-tunes it on SST-5's own text:
a bidirectional LM in sst5's shape (two layers of 256 units, char CNN) on `data.corpus=for:sst5`, the
built-in datasets' training text without the Rotten Tomatoes family (SST-2, MR, SUBJ), with SST-5's own
training split and lines equal to any dev split removed. Separate forward and backward stacks, so the
second layer of neither direction sees the word it predicts. `seqtasks train sst5` trains it once and
caches it (seqtasks/engine/pretrained.py); `seqtasks train sst5-lm` trains it into a run folder of its own."""
from dataclasses import dataclass, field
from pathlib import Path

from recipes import language_model
from seqtasks.core.config import DataConfig, EncoderConfig, TrainConfig
from seqtasks.engine import pipeline

DESCRIPTION = "the LM sst5 starts from: a two-layer biLM on the built-in training text, Rotten Tomatoes left out"
DATASET = "training text of the others (for:sst5)"
COST = "14 min on a 2-core CPU (twice measured), 6 epochs over 58,647 lines"


@dataclass
class Config(language_model.Config):
    """Six epochs, as trec-lm: dev perplexity 182 on the corpus's own held-out lines, 285 on SST-5's dev text
    (docs/pretraining.md)."""

    recipe: str = "sst5-lm"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="", train="", dev="", max_tokens=100,
                                                                corpus="for:sst5"))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(
        hidden_size=256, num_layers=2, cell="separate_stacks", chars=True, dropout=0.2))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=6))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("sst5-lm")
