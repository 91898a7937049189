"""SICK relatedness, SICK entailment and STS-B relatedness from one encoder: sick-multi plus the 5,749
STS-B training pairs, scored and selected on SICK.

STS-B's scores are the same kind of judgement as SICK's, on other sentences (news, captions, forums), so
the encoder sees 2.2 times the similarity pairs of SICK alone. SICK dev Pearson 0.852 ± 0.002 over seeds
13-15, against 0.843 ± 0.002 for sick-multi and 0.838 ± 0.003 for the sick recipe; entailment 0.727 ±
0.006 (README, "One encoder, many heads")."""
from dataclasses import dataclass
from pathlib import Path

from recipes import multi_task, sick_multi

DESCRIPTION = "sick relatedness + sick entailment + stsb, one shared BiLSTM (multi-task)"
DATASET, TASK = "sick + stsb", "sentence-similarity x 2 + pair-classification"


@dataclass
class Config(sick_multi.Config):
    """sick-multi's encoder and training; STS-B weighted like SICK relatedness (x20 against entailment)."""

    recipe: str = "sick-sts"
    tasks: str = "sick,sick-entailment,stsb"
    weights: str = "20,1,20"


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return multi_task.main(config, run_dir, resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("sick-sts")
