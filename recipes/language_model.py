"""Pretrain the shared encoder on your unlabelled text as a bidirectional language model, e.g.
    seqtasks train language-model --set data.train=corpus.txt [--set data.dev=held_out.txt]
    seqtasks train sst2 --set encoder.init=runs/language-model
The file is plain text (one sentence or document a line, gzip accepted; documents longer than
data.max_tokens are cut into chunks), a text column of a CSV, JSON Lines or Parquet file (data.text),
a saved dataset or a Hub id; `--set data.dataset=NAME` reads a built-in dataset's text without its
labels. The encoder a later run starts from has this run's shape: set it here (encoder.hidden_size,
encoder.chars) to the shape the target recipe uses."""
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.config import DataConfig, EncoderConfig, HeadConfig, RunConfig
from seqtasks.engine import pipeline

DESCRIPTION = "your own unlabelled text: pretrain the encoder as a bidirectional LM (data.train)"


@dataclass
class Config(RunConfig):
    recipe: str = "language-model"
    task: str = "language-model"
    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="", train="", dev="", max_tokens=100))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(dropout=0.2))
    head: HeadConfig = field(default_factory=lambda: HeadConfig(dropout=0.2))


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return pipeline.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("language-model")
