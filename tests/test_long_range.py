import json

import torch

from recipes.long_range import Config
from seqtasks.core.config import apply_overrides
from seqtasks.experiments import long_range
from seqtasks.experiments.synthetic import (
    ADDING_LEVELS,
    RECALL_KEYS,
    adding_problem,
    recall_task,
)


def test_adding_target_is_the_sum_of_the_two_marked_values():
    split = adding_problem(50, 20, torch.Generator().manual_seed(0))
    tokens = split.flat_ids.view(50, 20) - 1
    marked, values = tokens // ADDING_LEVELS, tokens % ADDING_LEVELS
    assert torch.all(marked.sum(1) == 2)
    assert torch.all(marked[:, :10].sum(1) == 1)  # one mark in each half
    expected = (values * marked).sum(1).float() / (ADDING_LEVELS - 1)
    torch.testing.assert_close(split.labels, expected)


def test_recall_target_is_the_first_token():
    split = recall_task(50, 30, torch.Generator().manual_seed(0))
    tokens = split.flat_ids.view(50, 30)
    assert torch.equal(split.labels, tokens[:, 0] - 1)
    assert torch.all(tokens[:, 1:] > RECALL_KEYS)  # distractors never look like keys


def test_long_range_smoke_writes_table_plots_and_flows(tmp_path):
    config = apply_overrides(Config(), ["steps=3", "lengths=12,16", "probe_length=12", "dev_examples=32",
                                        "cells=lstm,tied_gates,no_output_gate,rnn"])
    record = long_range.run(config, tmp_path)
    assert len(record["results"]) == 2 * 2 * 4
    assert all(0.0 <= row["dev"]["accuracy"] <= 1.0 for row in record["results"])
    params = {row["cell"]: row["parameters"] for row in record["results"] if row["task"] == "recall"}
    assert params["rnn"] < params["tied_gates"] < params["no_output_gate"] < params["lstm"]
    flow = record["gradient_flow"]["adding/lstm"][0]
    assert flow["distance"] == list(range(12)) and flow["forget_product"][0] == 1.0
    assert record["gradient_flow"]["recall/rnn"][0]["forget_product"] is None
    for name in ("results.md", "accuracy_vs_length.png", "gradient_flow.png", "metrics.json"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "metrics.json").read_text())["config"]["steps"] == 3


def test_interrupted_long_range_run_resumes_from_the_cli(tmp_path):
    from seqtasks.cli import main

    small = ["--set=steps=2", "--set=lengths=8", "--set=probe_length=8", "--set=dev_examples=16",
             "--set=cells=lstm,rnn", "--set=tasks=recall"]
    assert main(["train", "long-range", "--out", str(tmp_path), *small]) == 0
    finished = (tmp_path / "results.md").read_text()
    (tmp_path / "recall-T8-rnn" / "result.json").unlink()  # as if killed while training the rnn
    (tmp_path / "metrics.json").unlink()
    assert main(["train", "long-range", "--out", str(tmp_path), "--resume"]) == 0
    assert (tmp_path / "results.md").read_text() == finished
