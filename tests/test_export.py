"""ONNX export: the graph onnxruntime runs gives the torch model's outputs on real dev rows of mixed
lengths, for every kind of task; int8 keeps the predictions; padding changes nothing in the graph."""
import importlib
import io
import json
import shutil

import pytest
import torch

from seqtasks.api import Run, evaluate_file
from seqtasks.cli import main
from seqtasks.core.errors import CheckpointError
from seqtasks.data.batching import Batch
from seqtasks.data.chars import chars_for, spell
from seqtasks.engine.run import load_run
from seqtasks.export import export_run, load_onnx
from seqtasks.tasks.inference import batch_outputs

pytest.importorskip("onnxruntime")

SMALL = ["--set", "encoder.hidden_size=16", "--set", "train.epochs=1"]
DEV = {"sst2": "sst2/stsa.binary.dev", "ud-pos": "ud_english_ewt/en_ewt-ud-dev.conllu",
       "conll-ner": "conll2003/eng.testa", "sick": "sick/SICK_trial.txt", "sick-entailment": "sick/SICK_trial.txt",
       "mrpc": "mrpc/msr-para-val.tsv"}


def trained(tmp_path_factory, recipe, *settings):
    out = tmp_path_factory.mktemp("runs") / recipe
    assert main(["train", recipe, "--out", str(out), *SMALL, *settings]) == 0
    return out


def dev_split(run, data_dir, recipe):
    """The dev file, read and encoded as the run reads its data."""
    return evaluate_file(run, str(data_dir / DEV[recipe]), [])[1]


def compare_backends(run_dir, data_dir, recipe, int8=False):
    """(max |onnx - torch| over every output of every dev batch, torch run, onnx run, dev split)."""
    torch_run, onnx_run = load_run(run_dir), load_onnx(run_dir, int8=int8).loaded
    split = dev_split(torch_run, data_dir, recipe)
    largest = 0.0
    for (_, _, expected), (_, _, got) in zip(batch_outputs(torch_run.model, torch_run.task, split, 64),
                                             batch_outputs(onnx_run.model, onnx_run.task, split, 64)):
        assert expected.keys() == got.keys()
        for name in expected:
            assert expected[name].shape == got[name].shape, name
            largest = max(largest, float((expected[name] - got[name]).abs().max()))
    return largest, torch_run, onnx_run, split


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_classification_exports_with_every_pooling(pooling, tmp_path_factory, data_dir):
    run_dir = trained(tmp_path_factory, "sst2", "--set", f"head.pooling={pooling}", "--set", "train.max_steps=20")
    manifest = export_run(run_dir)
    assert manifest["outputs"] == (["probabilities", "attention"] if pooling == "attention" else ["probabilities"])
    largest, torch_run, onnx_run, split = compare_backends(run_dir, data_dir, "sst2")
    assert largest <= 1e-4
    lengths = split.lengths
    assert int(lengths.min()) < 10 < int(lengths.max())  # mixed lengths, in batches of mixed widths
    assert torch.equal(torch_run.task.predictions(torch_run.model, split).argmax(-1),
                       onnx_run.task.predictions(onnx_run.model, split).argmax(-1))


@pytest.fixture(scope="module")
def sst2_run(tmp_path_factory, data_dir):
    run_dir = trained(tmp_path_factory, "sst2")
    export_run(run_dir, int8=True)
    return run_dir


def test_int8_keeps_nearly_every_classification_and_says_how_many(sst2_run, data_dir, record_property):
    torch_run, int8_run = load_run(sst2_run), load_onnx(sst2_run, int8=True).loaded
    split = dev_split(torch_run, data_dir, "sst2")
    expected = torch_run.task.predictions(torch_run.model, split).argmax(-1)
    got = int8_run.task.predictions(int8_run.model, split).argmax(-1)
    share = float((expected == got).float().mean())
    record_property("int8_identical_share", share)
    print(f"int8 keeps {share:.2%} of {len(split)} sst2 dev predictions")
    assert share >= 0.99
    files = json.loads((sst2_run / "export.json").read_text())["files"]
    assert files["int8"]["bytes"] < files["fp32"]["bytes"] / 2


def test_padding_changes_nothing_in_the_graph(sst2_run):
    model = load_onnx(sst2_run).loaded.model
    token_ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    lengths = torch.tensor([4, 2])
    narrow = model.run(batch_with(token_ids, lengths))
    wide = model.run(batch_with(torch.cat([token_ids, torch.zeros(2, 9, dtype=torch.long)], 1), lengths))
    alone = model.run(batch_with(token_ids[1:, :2], lengths[1:]))
    torch.testing.assert_close(narrow["probabilities"], wide["probabilities"], atol=1e-6, rtol=0)
    torch.testing.assert_close(narrow["probabilities"][1:], alone["probabilities"], atol=1e-6, rtol=0)


def batch_with(token_ids, lengths):
    """A batch with spellings too (a made-up form per id), since the sst2 recipe's encoder reads them."""
    spellings = spell([f"w{i}" for i in range(int(token_ids.max()) + 1)])
    return Batch(token_ids, lengths, None, torch.arange(len(lengths)), chars_for(token_ids, spellings))


def test_onnx_backend_predicts_the_same_json_lines(sst2_run, monkeypatch, capsys):
    lines = "a gorgeous , witty film\n\nboring\n" + "word " * 600 + "\n"
    outputs = []
    for backend in (["--backend", "torch"], ["--backend", "onnx"]):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
        assert main(["predict", str(sst2_run), *backend]) == 0
        outputs.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    torch_records, onnx_records = outputs
    assert len(onnx_records) == 4 and onnx_records[1]["error"] == "empty input"
    for expected, got in zip(torch_records, onnx_records):
        assert expected.keys() == got.keys() and expected.get("label") == got.get("label")
        for label, p in expected.get("probabilities", {}).items():
            assert got["probabilities"][label] == pytest.approx(p, abs=1e-5)


@pytest.mark.parametrize("recipe", ["ud-pos", "conll-ner"])
def test_tagging_exports_emissions_and_decodes_the_same_tags(recipe, tmp_path_factory, data_dir):
    run_dir = trained(tmp_path_factory, recipe, "--set", "train.max_steps=30")
    manifest = export_run(run_dir)
    assert manifest["inputs"] == ["token_ids", "lengths", "char_spellings", "char_index"]  # character features
    assert manifest["crf"] is not None and len(manifest["crf"]["start"]) == len(load_run(run_dir).labels.labels)
    largest, torch_run, onnx_run, split = compare_backends(run_dir, data_dir, recipe)
    assert largest <= 1e-4
    assert torch_run.task.predictions(torch_run.model, split) == onnx_run.task.predictions(onnx_run.model, split)


@pytest.mark.parametrize("recipe,settings", [("sick", []), ("sick", ["--set", "head.name=comparator", "--set", "head.cosine_floor=-1.0"]),
                                             ("sick-entailment", []),
                                             ("mrpc", []), ("mrpc", ["--set", "head.name=comparator"])])
def test_pair_tasks_export_vectors_cosine_and_score(recipe, settings, tmp_path_factory, data_dir):
    run_dir = trained(tmp_path_factory, recipe, "--set", "train.max_steps=10", *settings)
    manifest = export_run(run_dir)
    assert manifest["outputs"][:2] == ["embedding", "cosine"]
    largest, torch_run, _, _ = compare_backends(run_dir, data_dir, recipe)
    assert largest <= 1e-4
    texts = ["A man is playing a guitar.", "Nobody is playing.", "A dog runs"]  # an odd number of texts
    expected = Run(torch_run).embed(texts)
    got = load_onnx(run_dir).embed(texts)
    assert got.shape == (3, torch_run.model.encoder.output_size)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(expected[:2], torch_run.model.embed(texts[:2]), atol=1e-5, rtol=0)


def test_a_corrupt_checkpoint_fails_export_with_the_checkpoint_error(sst2_run, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(sst2_run, broken)
    (broken / "best.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="best.safetensors"):
        export_run(broken)
    assert main(["export", str(broken)]) == 2
    assert "best.safetensors" in capsys.readouterr().err


def test_an_edited_graph_or_a_missing_export_is_refused_by_name(sst2_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(sst2_run, copy)
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="checksum"):
        load_onnx(copy)
    (copy / "model.int8.onnx").unlink()
    assert main(["predict", str(copy), "--backend", "onnx", "--int8"]) == 2
    error = capsys.readouterr().err
    assert "no exported model (model.int8.onnx)" in error and "seqtasks export" in error and "--int8" in error


def test_without_the_extra_export_says_what_to_install(sst2_run, monkeypatch, capsys):
    real = importlib.import_module

    def no_onnx(name, *args):
        if name.startswith("onnx"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_onnx)
    assert main(["export", str(sst2_run)]) == 2
    assert "pip install 'seqtasks[onnx]'" in capsys.readouterr().err
