import json

import pytest
import torch

import seqtasks.engine.training
from recipes.sst2 import Config
from seqtasks.core.config import apply_overrides
from seqtasks.engine import pipeline

SMALL = ["encoder.vectors=", "encoder.embedding_dim=16", "encoder.hidden_size=8", "train.epochs=3",
         "train.max_steps=4", "train.patience=5", "train.lr_decay=0.5"]


@pytest.mark.parametrize("extra", [["train.average=0"], ["train.average=0.9"],
                                   ["train.warmup=0.3", "train.encoder_lr=0.1"]], ids=["raw", "averaged", "ulmfit"])
def test_resume_after_a_kill_ends_where_an_uninterrupted_run_ends(data_dir, resumes_exactly, extra):
    resumes_exactly(lambda out, resume: pipeline.run(apply_overrides(Config(), SMALL + extra), out, resume=resume))


def test_same_seed_same_run_on_cpu(data_dir, tmp_path, run_history):
    for name in ("a", "b"):
        pipeline.run(apply_overrides(Config(), SMALL[:3] + ["train.epochs=1", "train.max_steps=3"]), tmp_path / name)
    assert run_history(tmp_path / "a") == run_history(tmp_path / "b")


def test_cross_validation_resumes_after_a_kill(data_dir, tmp_path):
    from recipes.cr import Config as CRConfig
    from seqtasks.cli import main

    small = [f"--set={item}" for item in SMALL[:3] + ["data.folds=3", "train.epochs=1", "train.max_steps=2"]]
    assert main(["train", "cr", "--out", str(tmp_path / "cv"), *small]) == 0
    finished = json.loads((tmp_path / "cv" / "metrics.json").read_text())["cv"]
    (tmp_path / "cv" / "metrics.json").unlink()  # as if killed while fold 3 was training
    (tmp_path / "cv" / "fold-03" / "metrics.json").unlink()
    assert main(["train", "cr", "--out", str(tmp_path / "cv"), "--resume"]) == 0
    resumed = json.loads((tmp_path / "cv" / "metrics.json").read_text())["cv"]
    assert resumed == finished and len(resumed["per_fold"]) == 3
    assert CRConfig().data.folds == 10


def test_learning_rate_decays_per_epoch(data_dir, tmp_path, monkeypatch):
    real_epoch, rates = seqtasks.engine.training.train_epoch, []

    def record(model, optimizer, *args, **kwargs):
        rates.append(optimizer.param_groups[0]["lr"])
        return real_epoch(model, optimizer, *args, **kwargs)

    monkeypatch.setattr(seqtasks.engine.training, "train_epoch", record)
    pipeline.run(apply_overrides(Config(), [*SMALL, "train.lr=0.01"]), tmp_path / "run")
    assert rates == pytest.approx([0.01, 0.01 / 1.5, 0.01 / 2.0])



def test_train_rows_draws_the_same_stratified_subset_for_a_seed(data_dir):
    from collections import Counter

    from recipes.sst2 import Config
    from seqtasks.core.config import apply_overrides
    from seqtasks.engine.prepare import read_parts

    config = apply_overrides(Config(), ["data.train_rows=300"])
    (train, dev), (again, _) = read_parts(config), read_parts(config)
    assert len(train.rows) == 300 and len(dev.rows) == 872 and train.rows["line"] == again.rows["line"]
    full = read_parts(Config())[0].rows
    share = Counter(full["label"])["1"] / len(full)
    assert abs(Counter(train.rows["label"])["1"] / 300 - share) < 0.01  # stratified: the labels' shares kept
    assert set(train.rows["line"]) <= set(full["line"])
    other = read_parts(apply_overrides(Config(), ["data.train_rows=300", "train.seed=14"]))[0]
    assert other.rows["line"] != train.rows["line"]


def test_a_dev_seed_keeps_the_carved_dev_rows_across_run_seeds(data_dir):
    """trec carves its dev split: by default each run seed draws other rows, with data.dev_seed the same."""
    from recipes.trec import Config
    from seqtasks.core.config import apply_overrides
    from seqtasks.engine.prepare import read_parts

    def dev_lines(*settings):
        train, dev = read_parts(apply_overrides(Config(), list(settings)))
        assert not set(train.rows["line"]) & set(dev.rows["line"])
        return dev.rows["line"]

    assert dev_lines("train.seed=13") != dev_lines("train.seed=14")
    fixed = dev_lines("train.seed=13", "data.dev_seed=7")
    assert fixed == dev_lines("train.seed=14", "data.dev_seed=7") == dev_lines("train.seed=7")


def test_slanted_triangular_rates_rise_then_fall_to_a_32nd(data_dir, tmp_path, monkeypatch):
    """train.warmup: Howard & Ruder's slanted triangle, step by step (3 epochs x 4 steps, cut at 3),
    and train.encoder_lr: the encoder's group at that share of every rate."""
    real_step, seen = torch.optim.AdamW.step, []

    def record(optimizer, *args, **kwargs):
        seen.append([group["lr"] for group in optimizer.param_groups])
        return real_step(optimizer, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", record)
    pipeline.run(apply_overrides(Config(), [*SMALL, "train.lr=0.01", "train.lr_decay=0", "train.warmup=0.25",
                                            "train.encoder_lr=0.1"]), tmp_path / "run")
    total, cut, peak = 12, 3, 0.01
    rise = [t / cut if t < cut else 1 - (t - cut) / (total - cut) for t in range(total)]
    expected = [peak * (1 + r * 31) / 32 for r in rise]
    assert [rates[1] for rates in seen] == pytest.approx(expected)  # the head's group
    assert [rates[0] for rates in seen] == pytest.approx([0.1 * rate for rate in expected])  # the encoder's
    assert expected[0] == pytest.approx(peak / 32) and expected[cut] == pytest.approx(peak)


def test_the_encoder_group_holds_exactly_the_encoders_parameters(data_dir):
    from seqtasks.engine.training import make_optimizer
    from seqtasks.tasks import build_model

    config = apply_overrides(Config(), [*SMALL, "train.encoder_lr=0.5"])
    model = build_model(config, 50, ["0", "1"])
    encoder, rest = make_optimizer(model, config.train).param_groups
    assert {id(p) for p in encoder["params"]} == {id(p) for p in model.encoder.parameters()}
    assert {id(p) for p in rest["params"]} == {id(p) for p in model.head.parameters()}
    assert encoder["share"] == 0.5 and "share" not in rest
