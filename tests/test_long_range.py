import json

import pytest
import torch

from recipes.long_range import Config
from seqtasks.core.config import HeadConfig, apply_overrides
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import Batch
from seqtasks.experiments import long_range
from seqtasks.experiments.synthetic import (
    ADDING_LEVELS,
    GATED_CUE,
    GATED_SYMBOLS,
    RECALL_KEYS,
    CueBalancedTagging,
    adding_problem,
    cue_positions,
    gated_task,
    recall_task,
    score_gated,
)
from seqtasks.model.encoder import EncoderOutput
from seqtasks.tools.deploy import DeployedHead


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
    (tmp_path / "recall-T8-rnn" / "seed-13" / "result.json").unlink()  # as if killed while training the rnn
    (tmp_path / "metrics.json").unlink()
    assert main(["train", "long-range", "--out", str(tmp_path), "--resume"]) == 0
    assert (tmp_path / "results.md").read_text() == finished


def test_gated_labels_are_each_steps_symbol_except_the_key_at_one_late_cue():
    split = gated_task(200, 40, torch.Generator().manual_seed(0))
    tokens, labels = split.flat_ids.view(200, 40), split.labels.view(200, 40)
    assert split.token_labels and torch.all((tokens == GATED_CUE).sum(1) == 1)
    cues = cue_positions(split)
    assert int(cues.min()) >= 30 and int(cues.max()) <= 38  # the last quarter, never the last step
    rows, keys = torch.arange(200), tokens[:, 0] - 1 - GATED_SYMBOLS  # keys have tokens of their own
    assert int(keys.min()) >= 0 and int(tokens[:, 1:][tokens[:, 1:] != GATED_CUE].max()) <= GATED_SYMBOLS
    torch.testing.assert_close(labels[rows, cues], keys)  # the key at the cue
    torch.testing.assert_close(labels[:, 0], keys)
    off_cue = tokens[:, 1:] != GATED_CUE
    torch.testing.assert_close(labels[:, 1:][off_cue], tokens[:, 1:][off_cue] - 1)  # elsewhere each step's own symbol


class CopyModel:
    """Answers every step with its own input symbol and class 0 at the cue: perfect off the cue,
    right at the cue only where the key is 0."""

    def outputs(self, batch: Batch, task) -> dict:
        symbols = (batch.token_ids - 1) % GATED_SYMBOLS  # the key's own symbol at step 1, and 0 at the cue
        return {"emissions": torch.nn.functional.one_hot(symbols, GATED_SYMBOLS).float()}

    head = DeployedHead()  # argmax decoding


def test_gated_scores_the_steps_and_the_key_apart():
    split = gated_task(300, 20, torch.Generator().manual_seed(1))
    scores = score_gated(CopyModel(), split)
    keys = split.flat_ids.view(300, 20)[:, 0] - 1 - GATED_SYMBOLS
    assert scores["per_step"] == 1.0
    assert scores["key"] == pytest.approx(float((keys == 0).float().mean()))
    assert scores["accuracy"] == pytest.approx((1.0 + scores["key"]) / 2)


def test_cells_take_a_width_of_their_own():
    assert long_range.CellSpec.parse("tied_gates:94") == long_range.CellSpec("tied_gates", 94)
    assert long_range.CellSpec.parse("lstm").label == "lstm"
    with pytest.raises(ConfigError, match="NAME:WIDTH"):
        long_range.CellSpec.parse("tied_gates:wide")


def test_gated_smoke_over_seeds_writes_mean_std_and_the_gate_profile(tmp_path):
    config = apply_overrides(Config(), ["steps=3", "lengths=12", "probe_length=12", "dev_examples=32", "tasks=gated",
                                        "cells=lstm,no_output_gate,tied_gates:24", "seeds=1,2"])
    record = long_range.run(config, tmp_path)
    assert len(record["results"]) == 3 * 2
    assert "±" in (tmp_path / "results.md").read_text()
    params = {row["cell"]: row["parameters"] for row in record["results"]}
    assert params["tied_gates (H=24)"] > 0 and set(params) == {"lstm", "no_output_gate", "tied_gates (H=24)"}
    profiles = record["gate_profiles"]
    assert "o" in profiles["lstm"] and "o" not in profiles["no_output_gate"]
    assert len(profiles["lstm"]["o"]["opening"]) == len(profiles["lstm"]["offsets"])
    assert (tmp_path / "gated_gates_at_cue.png").is_file() and (tmp_path / "accuracy_vs_length.png").is_file()


def test_the_gated_loss_weighs_the_key_as_much_as_all_the_steps():
    split = gated_task(4, 10, torch.Generator().manual_seed(2))
    batch = split.batch(torch.arange(4))
    head = CueBalancedTagging(6, [f"s{v}" for v in range(GATED_SYMBOLS)], HeadConfig())
    states = torch.randn(4, 10, 6)
    encoded = EncoderOutput(states, states[:, -1], torch.ones(4, 10, dtype=torch.bool))
    output = head(encoded, batch)
    losses = torch.nn.functional.cross_entropy(output.logits.flatten(0, 1), batch.labels.flatten(), reduction="none")
    cue = (batch.token_ids == GATED_CUE).flatten()
    torch.testing.assert_close(output.loss, losses[~cue].mean() + losses[cue].mean())
