"""encoder.init=recipe:NAME: a recipe's pretrained encoder, trained once into the cache, then reused."""
import json
import os
import threading
import time
from dataclasses import dataclass, field

import pytest
import torch

import recipes.sst5_lm
import recipes.sst5_lm_ft
import recipes.trec_lm
from seqtasks.cli import main
from seqtasks.core.checkpoint import load_tensors
from seqtasks.core.config import DataConfig, EncoderConfig, TrainConfig
from seqtasks.core.errors import ConfigError
from seqtasks.engine import pretrained

SMALL = ["--set=train.epochs=1", "--set=train.max_steps=3", "--set=encoder.vectors_vocab=0"]


@dataclass
class TinyLM(recipes.trec_lm.Config):
    """trec-lm's recipe at a test's size: SST-2's text, 8 units, 2 epochs of 3 steps."""

    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="sst2", train="train", dev="dev", max_tokens=30))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(hidden_size=8, chars=True, vectors_vocab=0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2, max_steps=3))


@pytest.fixture
def tiny_lm(monkeypatch):
    monkeypatch.setattr(recipes.trec_lm, "Config", TinyLM)


def encoder_weights(run_dir) -> dict:
    return {k: v for k, v in load_tensors(run_dir / "best.safetensors", "model").items() if k.startswith("encoder.")}


def cached_runs(recipe: str = "trec-lm") -> list:
    return sorted((pretrained.cache_dir() / "pretrained").glob(f"{recipe}-{'[0-9a-f]' * 12}"))


def test_the_first_run_pretrains_into_the_cache_and_later_runs_start_from_it(data_dir, tmp_path, tiny_lm, monkeypatch):
    assert main(["train", "trec", "--out", str(tmp_path / "a"), "--set=encoder.freeze_epochs=1", *SMALL]) == 0
    [cached] = cached_runs()
    record = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert record["encoder_init"]["run"] == "recipe:trec-lm" and record["encoder_init"]["folder"] == str(cached)
    assert record["config"]["encoder"]["hidden_size"] == 8  # the language model's shape, adopted
    lm = encoder_weights(cached)
    for name, weight in encoder_weights(tmp_path / "a").items():  # frozen for its one epoch: the LM's encoder
        assert torch.equal(weight if name != "encoder.embedding.weight" else weight[: len(lm[name])], lm[name]), name

    def no_pretraining(*args, **kwargs):
        raise AssertionError("the cached encoder was trained again")

    monkeypatch.setattr(recipes.trec_lm, "main", no_pretraining)
    assert main(["train", "trec", "--out", str(tmp_path / "b"), "--set=encoder.freeze_epochs=1", *SMALL]) == 0
    assert cached_runs() == [cached]
    again = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert again["dev"] == record["dev"]  # the same start, seed and data: the same run


def test_a_pretraining_killed_midway_continues_on_the_next_run_and_ends_as_an_uninterrupted_one(
        data_dir, tmp_path, tiny_lm, count_epochs, run_history, one_thread):
    assert main(["train", "trec-lm", "--out", str(tmp_path / "whole")]) == 0
    count_epochs(kill_at=2)
    with pytest.raises(KeyboardInterrupt):
        main(["train", "trec", "--out", str(tmp_path / "a"), *SMALL])
    assert cached_runs() == [] and not (tmp_path / "a").exists()
    epochs = count_epochs()
    assert main(["train", "trec", "--out", str(tmp_path / "a"), *SMALL]) == 0
    assert len(epochs) == 2  # the language model's second epoch, then trec's one: the first was not trained again
    [cached] = cached_runs()
    assert run_history(cached) == run_history(tmp_path / "whole")


def test_an_unknown_pretraining_recipe_is_one_line_before_the_run_folder_is_made(data_dir, tmp_path, capsys):
    assert main(["train", "trec", "--out", str(tmp_path / "a"), "--set=encoder.init=recipe:nope", *SMALL]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err and not (tmp_path / "a").exists()


def test_under_torchrun_an_encoder_not_yet_cached_is_refused_not_trained_by_every_process(tiny_lm, monkeypatch):
    monkeypatch.setitem(os.environ, "WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="torchrun"):
        pretrained.init_folder("recipe:trec-lm")
    assert cached_runs() == []


def test_a_process_needing_an_encoder_another_is_pretraining_waits_for_it_and_takes_its_run(tiny_lm, monkeypatch,
                                                                                              capsys):
    final = pretrained.cached_folder("trec-lm", TinyLM())
    final.parent.mkdir(parents=True)
    holding = threading.Event()

    def the_other_process():
        with pretrained.one_at_a_time(final.with_name(f".{final.name}.lock"), "trec-lm"):
            holding.set()
            time.sleep(0.5)
            final.mkdir()
            (final / "metrics.json").write_text("{}")  # its finished run

    def no_pretraining(*args, **kwargs):
        raise AssertionError("pretrained a second time")

    monkeypatch.setattr(recipes.trec_lm, "main", no_pretraining)
    other = threading.Thread(target=the_other_process)
    other.start()
    holding.wait()
    assert pretrained.init_folder("recipe:trec-lm") == final
    other.join()
    assert "another process is training this encoder; waiting for it" in capsys.readouterr().out


@dataclass
class TinyInnerLM(recipes.sst5_lm.Config):
    """sst5-lm at a test's size: SST-2's text, 8 units in two separate stacks, 3 steps."""

    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="sst2", train="train", dev="dev", max_tokens=30))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(
        hidden_size=8, num_layers=2, cell="separate_stacks", vectors_vocab=0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1, max_steps=3))


@dataclass
class TinyOuterLM(recipes.sst5_lm_ft.Config):
    """sst5-lm-ft at a test's size: SST-5's text, 3 steps, from sst5-lm's encoder."""

    data: DataConfig = field(default_factory=lambda: DataConfig(dataset="sst5", train="train", dev="dev", max_tokens=30))
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(init="recipe:sst5-lm", vectors_vocab=0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1, max_steps=3))


def test_a_recipe_starting_from_a_chain_of_two_pretrained_recipes_trains_both_once_and_keys_the_outer_by_the_inner(
        data_dir, tmp_path, monkeypatch):
    """sst5 starts from sst5-lm-ft, which starts from sst5-lm: the first run trains both, and a changed
    sst5-lm gets sst5-lm-ft a new cache key, so the cached fine-tuning of the old encoder is not reused."""
    monkeypatch.setattr(recipes.sst5_lm, "Config", TinyInnerLM)
    monkeypatch.setattr(recipes.sst5_lm_ft, "Config", TinyOuterLM)
    assert main(["train", "sst5", "--out", str(tmp_path / "a"), *SMALL]) == 0
    [inner], [outer] = cached_runs("sst5-lm"), cached_runs("sst5-lm-ft")
    record = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert record["encoder_init"]["folder"] == str(outer)
    assert json.loads((outer / "metrics.json").read_text())["encoder_init"]["folder"] == str(inner)
    assert record["config"]["encoder"]["cell"] == "separate_stacks"  # the shape came down the chain

    assert pretrained.cached_folder("sst5-lm-ft", TinyOuterLM()) == outer
    monkeypatch.setattr(recipes.sst5_lm, "Config", lambda: TinyInnerLM(train=TrainConfig(epochs=1, max_steps=2)))
    assert pretrained.cached_folder("sst5-lm-ft", TinyOuterLM()) != outer
