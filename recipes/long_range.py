"""Long-range memory: the adding problem and key recall at T = 50, 100, 200, 400, for every cell
variant on the same budget, with the gradient-flow curve of each (seed Q5, Q7, Q10, Q11, Q14).
`--set tasks=gated` is the output-gate task (a key hidden until a cue, seed Q5).

Synthetic data, no download. A smaller budget for smoke tests:
    seqtasks train long-range --set steps=20 --set lengths=20,40 --set probe_length=20
"""
from dataclasses import dataclass
from pathlib import Path

from seqtasks.experiments import long_range

DESCRIPTION = "adding, recall (and gated) tasks vs T for lstm, tied_gates, no_output_gate, rnn (seed claims)"
DATASET, TASK = "synthetic", "text-regression, text-classification, token-classification"


@dataclass
class Config:
    recipe: str = "long-range"
    tasks: str = "adding,recall"  # comma-separated
    lengths: str = "50,100,200,400"
    cells: str = "lstm,tied_gates,no_output_gate,rnn"
    hidden_size: int = 64  # the same width for every cell
    embedding_dim: int = 16
    forget_bias: float | None = 1.0  # for every LSTM variant (the rnn has no forget gate)
    steps: int = 800  # optimizer steps per (task, T, cell): the same budget for every cell
    batch_size: int = 64
    lr: float = 3e-3
    dev_examples: int = 1000
    probe_length: int = 100  # T at which the gradient-flow curves are measured
    seeds: str = "13"  # comma-separated; several: the table shows mean ± std
    threads: int = 1  # the step loop is many tiny ops: extra threads cost more than they give


def main(config: Config, run_dir: Path, resume: bool = False) -> dict:
    return long_range.run(config, run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("long-range")
