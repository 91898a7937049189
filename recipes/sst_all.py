"""SST-2 (binary) and SST-5 (five classes) from one encoder: the same kind of sentences, two label
sets, a classification head each over h_T."""
from dataclasses import dataclass
from pathlib import Path

from recipes import multi_task
from seqtasks.core.config import MultiTaskConfig

DESCRIPTION = "sst2 + sst5, one shared BiLSTM (multi-task)"
DATASET, TASK = "sst2 + sst5", "text-classification x 2"


@dataclass
class Config(MultiTaskConfig):
    """The encoder and training defaults are the single-task recipes' (RunConfig's)."""

    recipe: str = "sst-all"
    tasks: str = "sst2,sst5"


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return multi_task.main(config, run_dir, resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("sst-all")
