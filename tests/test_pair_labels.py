"""Pair classification with more than two labels: SICK's entailment judgments, read from the same file
as its relatedness scores, through the comparator head."""
import csv
import io
import json
from collections import Counter

import pytest
from sklearn.metrics import accuracy_score, f1_score

from seqtasks.cli import main
from seqtasks.core.config import HeadConfig, RunConfig
from seqtasks.core.errors import ConfigError
from seqtasks.data.pairs import PAIR_READERS
from seqtasks.data.readers import DataFormatError
from seqtasks.engine.run import load_run
from seqtasks.tasks import build_model

FEW_STEPS = ["--set", "train.epochs=1", "--set", "train.max_steps=5", "--set", "encoder.hidden_size=16"]


def test_sick_rows_carry_the_score_and_the_entailment_label(data_dir):
    path = data_dir / "sick" / "SICK_trial.txt"
    rows = PAIR_READERS["sick"](path)
    with open(path, newline="") as handle:
        judged = [row["entailment_judgment"] for row in csv.DictReader(handle, delimiter="\t")]
    assert Counter(rows["label"]) == Counter(judged) and set(judged) == {"ENTAILMENT", "NEUTRAL", "CONTRADICTION"}
    assert len(rows["score"]) == len(judged) == 500


def test_a_sick_row_without_its_label_names_file_and_line(tmp_path):
    path = tmp_path / "SICK_bad.txt"
    path.write_text("pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"
                    "1\tA b\tC d\t3.0\tNEUTRAL\n2\tA b\tC d\t3.0\t \n")
    with pytest.raises(DataFormatError, match=r"SICK_bad\.txt:3: empty label"):
        PAIR_READERS["sick"](path)


def test_the_cosine_head_refuses_more_than_two_labels():
    config = RunConfig(task="pair-classification", head=HeadConfig(name="cosine"))
    with pytest.raises(ConfigError, match="head.name=comparator"):
        build_model(config, 10, ["CONTRADICTION", "ENTAILMENT", "NEUTRAL"])


def test_sick_entailment_trains_scores_like_sklearn_and_predicts_a_distribution(data_dir, tmp_path, monkeypatch,
                                                                                 capsys):
    out = tmp_path / "sick-entailment"
    assert main(["train", "sick-entailment", "--out", str(out), *FEW_STEPS]) == 0
    run = load_run(out)
    assert run.labels.labels == ["CONTRADICTION", "ENTAILMENT", "NEUTRAL"]
    assert main(["evaluate", str(out), "--data", str(data_dir / "sick" / "SICK_trial.txt"),
                 "--json", str(tmp_path / "e.json")]) == 0
    scores = json.loads((tmp_path / "e.json").read_text())
    rows = PAIR_READERS["sick"](data_dir / "sick" / "SICK_trial.txt")
    split = run.task.encode(rows, run.vocab, run.labels, "trial")
    predicted = run.task.predictions(run.model, split)[:, 1:].argmax(-1).tolist()
    gold = split.labels.tolist()
    assert scores["accuracy"] == pytest.approx(accuracy_score(gold, predicted))
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, predicted, average="macro"))
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"A man plays.\tNobody plays.\n")))
    assert main(["predict", str(out)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record["probabilities"]) == set(run.labels.labels)
    assert sum(record["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert record["label"] == max(record["probabilities"], key=record["probabilities"].get)
