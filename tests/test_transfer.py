"""Transfer: a recipe, single- or multi-task, starts from another run's trained encoder (encoder.init), frozen at first."""
import json

import torch

from seqtasks.cli import main
from seqtasks.core.checkpoint import load_tensors
from seqtasks.data.vocab import Vocab

SMALL = ["--set=train.epochs=1", "--set=train.max_steps=3", "--set=encoder.vectors_vocab=0"]


def encoder_weights(run_dir) -> dict:
    return {k: v for k, v in load_tensors(run_dir / "best.safetensors", "model").items() if k.startswith("encoder.")}


def test_a_transferred_encoder_keeps_its_words_and_weights_and_new_words_get_rows(data_dir, tmp_path):
    source, target = tmp_path / "sst2", tmp_path / "trec"
    assert main(["train", "sst2", "--out", str(source), "--set=encoder.hidden_size=8", *SMALL]) == 0
    assert main(["train", "trec", "--out", str(target), f"--set=encoder.init={source}", "--set=encoder.freeze_epochs=1",
                 *SMALL]) == 0
    old, new = Vocab.load(source / "vocab.json"), Vocab.load(target / "vocab.json")
    assert new.tokens[: len(old)] == old.tokens and len(new) > len(old)  # known ids kept, question words added
    before, after = encoder_weights(source), encoder_weights(target)
    for name, weight in before.items():
        if name == "encoder.embedding.weight":
            assert torch.equal(after[name][: len(old)], weight)  # frozen for its one epoch: exactly as trained
            assert after[name].shape[0] == len(new) and after[name][len(old):].abs().sum() > 0
        else:
            assert torch.equal(after[name], weight), name
    record = json.loads((target / "metrics.json").read_text())
    assert record["encoder_init"]["known_words"] == len(old) and record["config"]["encoder"]["hidden_size"] == 8


def test_a_run_from_a_lowercasing_encoder_lowercases_too_and_says_so(data_dir, tmp_path, capsys):
    """ud-pos keeps case, sst2 lowercases: started from sst2's encoder, ud-pos has rows for lowercase words only."""
    source, target = tmp_path / "sst2", tmp_path / "ud-pos"
    assert main(["train", "sst2", "--out", str(source), "--set=encoder.hidden_size=8", *SMALL]) == 0
    assert main(["train", "ud-pos", "--out", str(target), f"--set=encoder.init={source}", *SMALL]) == 0
    assert "data.lowercase=True" in capsys.readouterr().out
    assert json.loads((target / "metrics.json").read_text())["config"]["data"]["lowercase"] is True
    vocab = Vocab.load(target / "vocab.json")
    assert vocab.lowercase and all(token == token.lower() for token in vocab.tokens)


def test_a_multi_task_run_starts_from_a_trained_encoder_in_its_shape_for_every_task(data_dir, tmp_path, capsys):
    """The shared encoder of sst2+mrpc comes from a cased ud-pos run: every task takes its width and case."""
    source, target = tmp_path / "ud-pos", tmp_path / "multi"
    assert main(["train", "ud-pos", "--out", str(source), "--set=encoder.hidden_size=8", "--set=encoder.chars=false",
                 *SMALL]) == 0
    assert main(["train", "multi-task", "--out", str(target), "--set=tasks=sst2,mrpc", f"--set=encoder.init={source}",
                 "--set=encoder.freeze_epochs=1", *SMALL]) == 0
    assert "hidden_size=8" in capsys.readouterr().out
    old, new = Vocab.load(source / "vocab.json"), Vocab.load(target / "vocab.json")
    assert new.tokens[: len(old)] == old.tokens and not new.lowercase
    before, after = encoder_weights(source), encoder_weights(target)
    assert torch.equal(after["encoder.embedding.weight"][: len(old)], before.pop("encoder.embedding.weight"))
    for name, weight in before.items():
        assert torch.equal(after[name], weight), name  # frozen for its one epoch: exactly as trained
    for task in ("sst2", "mrpc"):
        config = json.loads((target / "tasks" / task / "config.json").read_text())
        assert config["encoder"]["hidden_size"] == 8 and config["data"]["lowercase"] is False
    assert json.loads((target / "metrics.json").read_text())["encoder_init"]["known_words"] == len(old)
