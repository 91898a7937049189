"""seqtasks tune: a real Optuna study over tiny trials. Its best.toml reproduces its best trial, the pruner
stops the worst curve, two processes share one journal without losing or repeating a trial, a kill -9
resumes to the same count, and a bad space is one line before any trial runs."""
import json
import os
import random
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from seqtasks.cli import build_parser, cmd_tune, main
from seqtasks.core.config import ConfigError, RunConfig
from seqtasks.core.space import parse_dimension, parse_space
from seqtasks.engine.loggers import make_loggers
from seqtasks.engine.run import RunFolder
from seqtasks.tasks import TASKS, get_task
from seqtasks.tune import TuneSettings, differences, open_study, resolve_search, run_trial, toml_text

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState


@pytest.fixture
def noisy_csv(tmp_path) -> Path:
    """Two labels with overlapping words and 25% flipped labels: trials with other settings score apart."""
    rng = random.Random(3)
    good, bad, shared = ["good", "fine", "great"], ["bad", "poor", "dull"], ["the", "a", "movie", "plot", "was"]
    lines = ["text,label"]
    for i in range(160):
        label = i % 2
        words = [rng.choice((good if label else bad) + shared * 2) for _ in range(7)]
        lines.append(f"{' '.join(words)},{label if rng.random() > 0.25 else 1 - label}")
    path = tmp_path / "noisy.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny(csv: Path, epochs: int = 3) -> list[str]:
    return ["--set", f"data.train={csv}", "--set", "encoder.vectors=", "--set", f"train.epochs={epochs}",
            "--set", f"train.patience={epochs}", "--set", "train.threads=1", "--no-default-space",
            "--space", "train.lr=log:1e-3:5e-2", "--space", "encoder.hidden_size=cat:4,8,16"]


def study_of(out: Path):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / "study.journal")))
    return optuna.load_study(study_name="seqtasks", storage=storage)


def counted(study) -> list:
    return [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_best_toml_reproduces_the_best_trial_exactly(tmp_path, noisy_csv, capsys):
    out = tmp_path / "tune"
    assert main(["tune", "text-classification", *tiny(noisy_csv), "--trials", "4", "--confirm", "0",
                 "--pruner", "none", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    study = study_of(out)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    values = [t.value for t in study.trials]
    assert summary["best_trial"]["value"] == max(values) and len(set(values)) > 1  # the trials differ
    best = tomllib.loads((out / "best.toml").read_text())
    assert best["recipe"] == "text-classification"
    assert best["train"]["lr"] == summary["best_trial"]["params"]["train.lr"]
    assert main(["train", "--config", str(out / "best.toml"), "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["dev"]["accuracy"] == summary["best_trial"]["value"]
    # every trial is a run folder of its own, recorded in trials.csv with its parameters
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 5 and "params_train.lr" in rows[0]
    for trial in study.trials:
        record = json.loads((out / "trials" / f"{trial.number:04d}" / "metrics.json").read_text())
        assert record["dev"]["accuracy"] == trial.value
    assert {"history.png", "curves.png"} <= set(summary["plots"])
    assert "best.toml" in capsys.readouterr().out


def test_confirmation_reuses_the_trial_for_its_own_seed_and_ranks_by_mean(tmp_path, noisy_csv):
    out = tmp_path / "tune"
    assert main(["tune", "text-classification", *tiny(noisy_csv, epochs=2), "--trials", "3", "--confirm", "2",
                 "--confirm-seeds", "13,14", "--pruner", "none", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["confirmation"]
    assert len(rows) == 2 and rows[0]["mean"] >= rows[1]["mean"]
    for row in rows:
        seed14 = json.loads((out / "confirm" / f"{row['trial']:04d}" / "seed-14" / "metrics.json").read_text())
        assert seed14["seed"] == 14
        assert row["values"] == [row["single"], seed14["dev"]["accuracy"]]
    assert summary["chosen"] == rows[0]["params"]
    assert f"trial {rows[0]['trial']}: mean" in (out / "best.toml").read_text()


def test_a_cross_validated_recipe_is_confirmed_on_all_its_folds_not_the_proxy(tmp_path, noisy_csv):
    out = tmp_path / "tune"
    assert main(["tune", "text-classification", *tiny(noisy_csv, epochs=2), "--set", "data.folds=3",
                 "--cv-folds", "2", "--trials", "2", "--confirm", "1", "--confirm-seeds", "13,14",
                 "--pruner", "none", "--out", str(out)]) == 0
    row = json.loads((out / "summary.json").read_text())["confirmation"][0]
    proxy = json.loads((out / "trials" / f"{row['trial']:04d}" / "metrics.json").read_text())
    assert proxy["cv"]["folds"] == 2 and row["single"] == proxy["cv"]["accuracy_mean"]
    confirmed = [json.loads((out / "confirm" / f"{row['trial']:04d}" / f"seed-{seed}" / "metrics.json").read_text())
                 for seed in (13, 14)]
    assert [record["cv"]["folds"] for record in confirmed] == [3, 3]
    assert row["values"] == [record["cv"]["accuracy_mean"] for record in confirmed]


class CurveModule:
    """A recipe whose training reports a given dev curve through the toolkit's listeners."""

    def __init__(self, curve: list[float]) -> None:
        self.curve = curve

    def main(self, config, folder: Path) -> dict:
        folder.mkdir(parents=True, exist_ok=True)
        loggers = make_loggers("", RunFolder(folder), "accuracy", False)
        for epoch, value in enumerate(self.curve, start=1):
            for logger in loggers:
                logger.epoch({"epoch": epoch, "dev": {"accuracy": value}})
        return {"dev": {"accuracy": max(self.curve)}, "selected_on": "dev accuracy"}


def test_the_median_pruner_stops_the_trial_whose_curve_is_worst(tmp_path, noisy_csv):
    search = resolve_search(TuneSettings(recipe="text-classification", overrides=[f"data.train={noisy_csv}"],
                                         space=["train.lr=log:1e-3:1e-2"], default_space=False, out=str(tmp_path)))
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0))
    for curve in ([0.6, 0.7, 0.8], [0.55, 0.65, 0.75]):
        search.module = CurveModule(curve)
        trial = study.ask()
        study.tell(trial, run_trial(search, trial, keep_pruned=False))
    search.module = CurveModule([0.3, 0.31, 0.32])
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        run_trial(search, trial, keep_pruned=False)
    assert not (tmp_path / "trials" / f"{trial.number:04d}").exists()  # its run folder is removed
    assert (tmp_path / "trials" / f"{trial.number:04d}.log").exists()  # what it printed stays
    kept = study.ask()
    with pytest.raises(optuna.TrialPruned):
        run_trial(search, kept, keep_pruned=True)
    assert (tmp_path / "trials" / f"{kept.number:04d}").is_dir()


def test_the_default_pruner_waits_for_four_trials_and_four_epochs(tmp_path, noisy_csv):
    settings = TuneSettings(recipe="text-classification", overrides=[f"data.train={noisy_csv}"],
                            space=["train.lr=log:1e-3:1e-2"], default_space=False, out=str(tmp_path))
    study = open_study(resolve_search(settings), settings, 13)
    for _ in range(4):
        done = study.ask()
        for epoch in range(1, 6):
            done.report(0.9, epoch)
        study.tell(done, 0.9)
    hopeless = study.ask()
    for epoch in range(1, 4):
        hopeless.report(0.1, epoch)
        assert not hopeless.should_prune(), f"pruned at epoch {epoch}"
    hopeless.report(0.1, 4)
    assert hopeless.should_prune()


def test_two_processes_on_one_journal_finish_n_trials_between_them(tmp_path, noisy_csv):
    out = tmp_path / "tune"
    assert main(["tune", "text-classification", *tiny(noisy_csv, epochs=8), "--trials", "6", "--workers", "2",
                 "--confirm", "0", "--pruner", "none", "--out", str(out)]) == 0
    study = study_of(out)
    done = [t for t in study.trials if not t.user_attrs.get("surplus")]
    assert len(counted(study)) == 6 and all(t.state == TrialState.COMPLETE for t in done)
    assert len({t.user_attrs["pid"] for t in done}) == 2  # both processes trained trials
    for trial in done:  # each trained once: one folder, one log, the value its metrics.json holds
        record = json.loads((out / "trials" / f"{trial.number:04d}" / "metrics.json").read_text())
        assert record["dev"]["accuracy"] == trial.value
        assert (out / "trials" / f"{trial.number:04d}.log").read_text().count("epoch 1/") == 1


def test_kill_9_mid_study_then_resume_ends_with_the_asked_number_of_trials(tmp_path, noisy_csv):
    out = tmp_path / "tune"
    args = ["tune", "text-classification", *tiny(noisy_csv, epochs=40), "--trials", "3", "--confirm", "0",
            "--pruner", "none", "--out", str(out)]
    process = subprocess.Popen([sys.executable, "-c", "import sys; from seqtasks.cli import main; sys.exit(main())",
                                *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out / "trials" / "0001.log").exists() or (out / "trials" / "0001" / "metrics.json").exists():
        assert time.monotonic() < deadline and process.poll() is None, "the study did not reach its second trial"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert study_of(out).trials[1].state == TrialState.RUNNING  # killed mid-trial
    assert main([*args, "--resume"]) == 0
    study = study_of(out)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL, *[TrialState.COMPLETE] * 2]
    assert study.trials[2].params == study.trials[1].params  # the interrupted trial ran again
    assert sorted(p.name for p in (out / "trials").iterdir() if p.is_dir()) == ["0000", "0002", "0003"]
    changed = [*args, "--resume", "--space", "train.lr=log:1e-4:1e-2"]
    with pytest.raises(ConfigError, match="its space was"):
        cmd_tune(build_parser().parse_args(changed))


@pytest.mark.parametrize("spec, message", [
    ("train.lrr=log:1e-4:1e-2", "unknown config key 'train.lrr'"),
    ("train.lr=logx:1e-4:1e-2", "expected KEY=KIND:VALUES"),
    ("train.lr=log:0:1e-2", "a log scale needs LOW > 0"),
    ("train.lr=log:1e-2:1e-4", "LOW < HIGH"),
    ("encoder.hidden_size=float:8:64", "holds whole numbers"),
    ("encoder.dropout=float:0.1:1.5", "encoder.dropout=1.5: expected a value in [0, 1)"),
    ("encoder.chars=cat:yes,maybe", "encoder.chars='maybe': expected a bool"),
    ("head.pooling=log:1:2", "holds a str; list its values with cat:"),
    ("encoder=cat:a", "unknown config key 'encoder'"),
])
def test_a_bad_space_is_one_line_before_any_trial(tmp_path, noisy_csv, capsys, spec, message):
    out = tmp_path / "tune"
    assert main(["tune", "text-classification", "--set", f"data.train={noisy_csv}", "--space", spec,
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("problem, message", [
    ("missing", "no such data file"),
    ("label", "no column 'label'"),
])
def test_data_a_trial_would_fail_on_is_one_line_before_the_study_folder(tmp_path, capsys, problem, message):
    path = tmp_path / "tickets.csv"
    if problem == "label":
        path.write_text("text,category\nthe printer is down,hardware\n")
    out = tmp_path / "tune"
    assert main(["tune", "text-classification", "--set", f"data.train={path}", "--set", "encoder.vectors=",
                 "--trials", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err.lower() and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_each_task_kinds_default_space_parses_and_leaves_out_what_its_head_does_not_take():
    for name in TASKS:
        task = get_task(name)
        config = RunConfig(task=name)
        space = parse_space(task.search_space(config.head), config)
        assert "train.lr" in space
        options = task.head_class(config.head).OPTIONS
        assert all(key.removeprefix("head.") in options for key in space if key.startswith("head."))
    assert "head.crf" in parse_space(get_task("token-classification").search_space(RunConfig().head), RunConfig())
    tagging = parse_space(get_task("token-classification").search_space(RunConfig().head), RunConfig())
    assert "head.pooling" not in tagging and "head.pooling" in parse_space(
        get_task("text-classification").search_space(RunConfig().head), RunConfig())
    lm = RunConfig(task="language-model")
    assert "encoder.num_layers" not in parse_space(get_task("language-model").search_space(lm.head), lm)


def test_a_space_in_toml_and_on_the_command_line(tmp_path, noisy_csv):
    config = tmp_path / "tune.toml"
    config.write_text(f'recipe = "text-classification"\n[data]\ntrain = "{noisy_csv}"\n'
                      '[space]\n"train.lr" = "log:1e-4:1e-2"\n[space.head]\npooling = "cat:last,max"\n')
    search = resolve_search(TuneSettings(config_file=str(config), space=["head.pooling=cat:attention"],
                                         default_space=False, out=str(tmp_path / "t")))
    assert {k: d.spec() for k, d in search.space.items()} == {"train.lr": "log:0.0001:0.01",
                                                              "head.pooling": "cat:attention"}
    config.write_text('recipe = "text-classification"\n[space]\n"train.lr" = 0.1\n')
    with pytest.raises(ConfigError, match="expected a string"):
        resolve_search(TuneSettings(config_file=str(config)))


def test_cross_validated_recipes_tune_on_a_proxy_and_best_toml_keeps_the_recipes_folds(tmp_path):
    search = resolve_search(TuneSettings(recipe="mr", out=str(tmp_path), cv_folds=3))
    assert search.base.data.folds == 3 and search.recipe_folds == 10
    with pytest.raises(ConfigError, match="--cv-folds 1: expected 2 to the recipe's 10"):
        resolve_search(TuneSettings(recipe="mr", cv_folds=1))


def test_from_a_pretrained_encoder_the_space_leaves_out_the_shape_it_fixes():
    """trec starts from trec-lm's encoder, whose width, layers and char CNN every trial would take over."""
    space = resolve_search(TuneSettings(recipe="trec")).space
    assert "train.lr" in space and not {"encoder.hidden_size", "encoder.num_layers", "encoder.chars"} & set(space)
    assert "encoder.hidden_size" in resolve_search(TuneSettings(recipe="trec", overrides=["encoder.init="])).space
    with pytest.raises(ConfigError, match="encoder.init=recipe:trec-lm fixes the encoder's shape"):
        resolve_search(TuneSettings(recipe="trec", space=["encoder.hidden_size=cat:64,128"]))


def test_toml_text_reads_back_as_the_same_values():
    data = {"recipe": "x", "data": {"train": 'a "quoted" path é', "folds": 3},
            "encoder": {"chars": True, "dropout": 1e-05}, "train": {"lr": 0.0012345678901234567}}
    assert tomllib.loads(toml_text(data)) == data
    assert differences({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 2, "d": 4}}) == {"b": {"d": 3}}


def test_without_optuna_the_command_names_the_install(tmp_path, monkeypatch, capsys, noisy_csv):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(["tune", "text-classification", "--set", f"data.train={noisy_csv}", "--out", str(tmp_path / "t")]) == 2
    assert "pip install 'seqtasks[tune]'" in capsys.readouterr().err


def test_parse_dimension_reads_each_kind():
    config = RunConfig()
    assert parse_dimension("train.patience=int:2:9", config).spec() == "int:2:9"
    assert parse_dimension("encoder.hidden_size=log:32:512", config).whole
    assert parse_dimension("train.average=cat:0,0.99", config).choices == (0.0, 0.99)
