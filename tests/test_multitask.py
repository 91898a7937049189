"""Multi-task runs: one encoder shared by a head per task, batches drawn by a sampling rule, exact resume,
and the run folder's tasks reachable by name."""
import io
import json
from collections import Counter

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file

from recipes import multi_task
from seqtasks import LSTMEncoder
from seqtasks.cli import main
from seqtasks.core.config import EncoderConfig, HeadConfig, RunConfig, TrainConfig, apply_overrides
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.engine.mixture import TaskMixture, draw_tasks, sampling_probabilities
from seqtasks.engine.run import load_run
from seqtasks.tasks import get_task
from seqtasks.tasks.model import MultiTaskModel

SMALL = ["tasks=sst2,mrpc", "encoder.hidden_size=8", "encoder.embedding_dim=8", "encoder.vectors=",
         "train.epochs=2", "train.max_steps=4", "train.batch_size=16"]


def test_two_kinds_of_task_train_through_one_encoder_and_both_heads_learn():
    rows = {"a": Dataset.from_dict({"tokens": [["good", "film"], ["bad", "one", "here"]], "label": ["1", "0"],
                                    "line": [1, 2]}),
            "b": Dataset.from_dict({"tokens": [["a", "man", "runs"], ["dogs"]], "tokens_b": [["a", "man"], ["cats"]],
                                    "score": [0.8, 0.1], "line": [1, 2]})}
    kinds = {"a": get_task("text-classification"), "b": get_task("sentence-similarity")}
    vocab = Vocab.build([t for name, task in kinds.items() for c in task.text_columns for t in rows[name][c]])
    encoder_config = EncoderConfig(embedding_dim=6, hidden_size=5, dropout=0.0, vectors="")  # deterministic forward
    encoder = LSTMEncoder.from_config(encoder_config, len(vocab))
    members, splits = {}, []
    for name, task in kinds.items():
        labels = LabelSet.build(task.label_values(rows[name]))
        members[name] = task.build_model(RunConfig(task=task.name, encoder=encoder_config, head=HeadConfig(dropout=0.0)),
                                         encoder, labels.labels)
        splits.append(task.encode(rows[name], vocab, labels, name))
    model = MultiTaskModel(encoder, members, {"a": 1.0, "b": 2.0})
    assert model.member("a").encoder is model.member("b").encoder is model.encoder
    shared = sum(p.numel() for p in encoder.parameters())
    heads = sum(p.numel() for p in model.heads.parameters())
    assert sum(p.numel() for p in model.parameters()) == shared + heads  # the encoder counted once

    mixture = TaskMixture(["a", "b"], splits)
    for key in mixture.epoch_batches(TrainConfig(batch_size=2, seed=1), 0):
        batch = mixture.batch(key)
        loss = model(batch).loss
        alone = model.member(batch.task)(batch).loss  # the task's own model: its head, unweighted
        torch.testing.assert_close(loss, alone * model.weights[batch.task])
        loss.backward()
    for name, head in model.heads.items():
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters() if p.requires_grad), name
    assert encoder.rnn.weight_hh_l0.grad.abs().sum() > 0


def test_proportional_sampling_takes_every_batch_once_in_a_seeded_order():
    sizes = [30, 10, 2]
    first = draw_tasks(sizes, "proportional", 2.0, torch.Generator().manual_seed(5))
    assert Counter(first) == {0: 30, 1: 10, 2: 2}
    assert first == draw_tasks(sizes, "proportional", 2.0, torch.Generator().manual_seed(5))
    assert first != draw_tasks(sizes, "proportional", 2.0, torch.Generator().manual_seed(6))


@pytest.mark.parametrize("sampling,temperature,expected", [
    ("uniform", 2.0, [1 / 3, 1 / 3, 1 / 3]),
    ("temperature", 2.0, [3000 ** 0.5, 1000 ** 0.5, 200 ** 0.5]),
    ("temperature", 1.0, [3000, 1000, 200]),  # T = 1 is proportional
])
def test_sampling_draws_the_proportions_it_claims(sampling, temperature, expected):
    sizes = [3000, 1000, 200]
    expected = torch.tensor(expected, dtype=torch.float64) / sum(expected)
    torch.testing.assert_close(sampling_probabilities(sizes, sampling, temperature), expected)
    draws = Counter()
    for seed in range(10):  # 42,000 draws
        draws.update(draw_tasks(sizes, sampling, temperature, torch.Generator().manual_seed(seed)))
    total = sum(draws.values())
    assert total == 10 * sum(sizes)
    for task, p in enumerate(expected.tolist()):
        assert abs(draws[task] / total - p) < 4 * (p * (1 - p) / total) ** 0.5  # within 4 standard errors


def test_a_mixture_epoch_cycles_a_small_task_and_tags_each_batch_with_its_task():
    splits = [get_task("text-classification").encode(
        Dataset.from_dict({"tokens": [["w"] * (i % 3 + 1) for i in range(n)], "label": ["x"] * n,
                           "line": list(range(1, n + 1))}), Vocab.build([["w"]]), LabelSet(["x"]), "s")
        for n in (40, 4)]
    mixture = TaskMixture(["big", "small"], splits, "uniform")
    keys = mixture.epoch_batches(TrainConfig(batch_size=4, seed=3), 0)
    assert len(keys) == 10 + 1  # an epoch is sum n_i batches
    small = [index for task, index in keys if task == 1]
    assert len(small) > 1 and all(torch.equal(index, small[0]) for index in small)  # its one batch, again
    assert {mixture.batch(key).task for key in keys} == {"big", "small"}


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("multi") / "run"
    assert main(["train", "multi-task", "--out", str(out), *[f"--set={s}" for s in SMALL]]) == 0
    return out


def test_the_run_folder_holds_the_encoder_once_and_every_head(multi_run):
    weights = load_file(multi_run / "best.safetensors")
    assert {name.split(".")[0] for name in weights} == {"encoder", "heads"}
    assert {name.split(".")[1] for name in weights if name.startswith("heads.")} == {"sst2", "mrpc"}
    for name in ("sst2", "mrpc"):
        assert {p.name for p in (multi_run / "tasks" / name).iterdir()} == {"config.json", "vocab.json", "labels.json"}
    history = [json.loads(line) for line in (multi_run / "log.jsonl").read_text().splitlines()]
    assert {"sst2/accuracy", "mrpc/f1", "mean"} <= set(history[0]["dev"])  # every task's dev metrics, per epoch
    assert LSTMEncoder.from_pretrained(multi_run).encode(["a fine film"]).final.shape == (1, 16)


def test_evaluate_and_predict_take_a_task_by_name(multi_run, data_dir, tmp_path, capsys, monkeypatch):
    dev = json.loads((multi_run / "metrics.json").read_text())["tasks"]["mrpc"]["dev"]
    assert main(["evaluate", str(multi_run), "--task", "mrpc", "--data", str(data_dir / "mrpc" / "msr-para-val.tsv"),
                 "--json", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["f1"] == pytest.approx(dev["f1"])
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a fine film\n")))
    assert main(["predict", str(multi_run), "--task", "sst2"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in {"0", "1"}


def test_a_task_of_a_multi_task_run_exports_and_predicts_under_onnxruntime(multi_run, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    assert main(["export", str(multi_run), "--task", "sst2"]) == 0
    assert (multi_run / "tasks" / "sst2" / "model.onnx").is_file()
    outputs = []
    for backend in ("torch", "onnx"):
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a fine film\nbad , bad , bad\n")))
        assert main(["predict", str(multi_run), "--task", "sst2", "--backend", backend]) == 0
        outputs.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    for expected, got in zip(*outputs):
        assert expected["label"] == got["label"]
        assert expected["probabilities"]["1"] == pytest.approx(got["probabilities"]["1"], abs=1e-5)
    assert main(["predict", str(multi_run), "--task", "mrpc", "--backend", "onnx"]) == 2
    assert f"seqtasks export {multi_run} --task mrpc" in capsys.readouterr().err


def test_a_task_the_run_lacks_is_an_error_listing_its_tasks(multi_run, data_dir, capsys):
    file = str(data_dir / "sst2" / "stsa.binary.dev")
    assert main(["evaluate", str(multi_run), "--task", "sst5", "--data", file]) == 2
    assert "has no task 'sst5'; its tasks: mrpc, sst2" in capsys.readouterr().err
    assert main(["evaluate", str(multi_run), "--data", file]) == 2
    assert "name one of its tasks with --task; its tasks: mrpc, sst2" in capsys.readouterr().err
    with pytest.raises(Exception, match="its tasks: mrpc, sst2"):
        load_run(multi_run, task="ner")


def test_a_multi_task_run_resumes_exactly(data_dir, resumes_exactly):
    resumes_exactly(lambda out, resume: multi_task.main(apply_overrides(multi_task.Config(), SMALL), out, resume))


@pytest.mark.parametrize("settings,message", [
    (["tasks=sst2"], "at least two tasks"),
    (["tasks=sst2,sst2"], "a name of its own"),
    (["tasks=sst2,mrpc", "select=ner"], "select='ner'"),
    (["tasks=sst2,mr"], "cross-validated"),
    (["tasks=sst2,mrpc", "weights=1"], "one weight per task"),
    (["tasks=sst2,mrpc", "sampling=random"], "sampling='random'"),
    (["tasks=sst2,pos-ner"], "not a single-task recipe"),
])
def test_a_wrong_multi_task_config_fails_before_anything_is_written(settings, message, tmp_path, capsys):
    assert main(["train", "multi-task", "--out", str(tmp_path / "run"), *[f"--set={s}" for s in settings]]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_seeds_train_a_multi_task_recipe_once_per_seed(tmp_path, data_dir):
    out = tmp_path / "seeds"
    assert main(["train", "multi-task", "--out", str(out), "--seeds", "1,2", *[f"--set={s}" for s in SMALL],
                 "--set=train.epochs=1"]) == 0
    summary = json.loads((out / "seeds.json").read_text())["summary"]
    assert len(summary["mean"]["values"]) == 2 and {"sst2/accuracy", "mrpc/f1"} <= set(summary)
