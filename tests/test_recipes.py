"""Every recipe runs end to end on a smoke budget, through the command line, on the real files."""
import json

import pytest

from recipes import RECIPES, load_recipe
from seqtasks.cli import main

SMOKE = ["train.epochs=1", "train.max_steps=2", "encoder.hidden_size=8", "encoder.vectors_vocab=0"]
SPECIAL = {  # recipes whose config is not a RunConfig: their own smoke budgets
    "long-range": ["steps=3", "lengths=10", "probe_length=10", "dev_examples=20", "tasks=adding,recall",
                   "cells=lstm,rnn"],
    "compare-pooling": ["tasks=trec", "poolings=last,max", "seeds=1", "epochs=1", "max_steps=2"],
    "multi-task": ["tasks=trec,sick", *SMOKE],
}


# the own-data recipes need a user's file: tests/data/test_user_files.py trains each of them
def reads_built_in_data(recipe: str) -> bool:
    data = getattr(load_recipe(recipe).Config(), "data", None)
    return data is None or bool(data.dataset or data.corpus)


BUILT_IN = [r for r in RECIPES if reads_built_in_data(r)]


@pytest.mark.parametrize("recipe", BUILT_IN)
def test_recipe_trains_on_a_smoke_budget(recipe, data_dir, tmp_path):
    overrides = SPECIAL.get(recipe, SMOKE)
    if getattr(getattr(load_recipe(recipe).Config(), "encoder", None), "init", ""):
        overrides = [*overrides, "encoder.init="]  # its pretraining is a recipe of its own, smoke-tested as one
    if getattr(load_recipe(recipe).Config(), "data", None) is not None and load_recipe(recipe).Config().data.folds:
        overrides = [*overrides, "data.folds=2"]
    out = tmp_path / recipe
    assert main(["train", recipe, "--out", str(out), *(f"--set={o}" for o in overrides)]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert record["recipe"] == recipe and record["versions"]["torch"]
    if "tasks" in record:  # multi-task: every task's dev metrics, and their mean
        assert all(task["dev"]["n"] > 0 for task in record["tasks"].values())
        assert sorted(record["tasks"]) == sorted(record["config"]["tasks"].split(","))
        assert 0.0 <= record["dev"]["mean"] <= 1.0 or record["selected_on"] != "dev mean"
    elif recipe in SPECIAL:
        assert record["results"]
    elif "cv" in record:
        assert record["cv"]["folds"] == 2 and len(record["cv"]["per_fold"]) == 2
    elif record["selected_on"] == "dev perplexity":  # a language model: above 1, below the output vocabulary
        assert 1.0 < record["dev"]["perplexity"] < record["config"]["data"]["output_words"]
    else:
        metric = record["selected_on"].removeprefix("dev ")
        assert 0.0 <= record["dev"][metric] <= 1.0 or metric == "pearson"
        assert record["dev"]["n"] > 0
