import json

import pytest
import torch

from seqtasks.cli import main
from seqtasks.core.config import RunConfig, apply_overrides
from seqtasks.data.batching import bucketed_batches, padding_waste
from seqtasks.engine.pipeline import read_split
from seqtasks.experiments.bench import (
    BENCH_SHAPE,
    lstm_flops_per_token,
    synthetic_split,
)
from seqtasks.experiments.raw_loop import RawBatch, RawModel
from seqtasks.tasks import build_model

TINY = ["--set", "encoder.embedding_dim=8", "--set", "encoder.hidden_size=8"]


def test_flops_count_the_four_gate_matrices_of_every_layer_and_direction():
    config = apply_overrides(RunConfig(), ["encoder.embedding_dim=100", "encoder.hidden_size=256",
                                           "encoder.num_layers=2", "encoder.bidirectional=true"])
    train, inference = lstm_flops_per_token(config)
    layer1 = 2 * (2 * 4 * 256 * (100 + 256))
    layer2 = 2 * (2 * 4 * 256 * (512 + 256))
    assert inference == layer1 + layer2 and train == 3 * inference


@pytest.mark.parametrize("task,per_token", [("token-classification", True), ("text-classification", False)])
def test_raw_loop_computes_the_toolkit_models_loss(task, per_token):
    """The yardstick is the same model: with the same weights both give the same loss."""
    config = apply_overrides(RunConfig(), [*BENCH_SHAPE, "encoder.embedding_dim=6", "encoder.hidden_size=5",
                                           "encoder.dropout=0", "head.dropout=0", f"task={task}"])
    split = synthetic_split(4, 7, 20, 3, per_token, seed=0)
    split.offsets = torch.tensor([0, 7, 10, 21, 28])  # ragged rows
    batch = split.batch(torch.arange(4))
    toolkit = build_model(config, 20, ["a", "b", "c"]).eval()
    raw = RawModel(20, 6, 5, True, 0.0, 3, per_token).eval()
    output = toolkit.head.emit if per_token else toolkit.head.mlp[-1]
    with torch.no_grad():
        raw.embedding.weight.copy_(toolkit.encoder.embedding.weight)
        raw.lstm.load_state_dict(toolkit.encoder.rnn.state_dict())
        raw.out.load_state_dict(output.state_dict())
    expected = toolkit(batch).loss
    torch.testing.assert_close(raw(RawBatch(batch.token_ids, batch.lengths, batch.labels)), expected)


def test_default_bucketing_keeps_padding_under_five_percent_on_ud_pos(data_dir):
    config = apply_overrides(RunConfig(), ["data.dataset=ud_english_ewt"])
    lengths = torch.tensor([len(t) for t in read_split(config, "train").rows["tokens"]])
    batches = bucketed_batches(lengths, 32, torch.Generator().manual_seed(0))
    assert padding_waste(lengths, batches) < 0.05


def run_quick(tmp_path, *extra):
    out = tmp_path / "bench.json"
    assert main(["bench", "ud-pos", "--quick", "--json", str(out), *TINY, *extra]) == 0
    return json.loads(out.read_text())


def test_quick_bench_writes_the_documented_json(data_dir, tmp_path, capsys):
    results = run_quick(tmp_path)
    assert "train ratio toolkit/raw" in capsys.readouterr().out
    assert results["train_ratio"] == results["train"]["ratio"]["median"] > 0
    assert results["toolkit_train_tokens_per_s"] > 0 and results["raw_train_tokens_per_s"] > 0
    assert set(results["cells"]) == {"lstm", "reference", "tied_gates", "no_output_gate", "rnn", "separate_stacks"}
    assert set(results["features"]) == {"chars", "crf"}
    assert 0 < results["data"]["padding_waste_bucketed"] < results["data"]["padding_waste_random"] < 1
    assert results["data"]["sentences"] == 12544
    assert 0 < results["hardware"]["toolkit_train_share"] < 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_quick_bench_runs_on_cuda_with_autocast(data_dir, tmp_path):
    results = run_quick(tmp_path, "--device", "cuda", "--amp", "bf16")
    assert results["device"] == "cuda" and results["memory"]["peak_cuda_mb"] > 0
