"""The CUDA path: cuDNN's LSTM over packed batches, the variant cells, mixed precision, and every
command on the GPU. Each test runs where CUDA exists and is skipped with the reason where it does not."""
import io
import json

import pytest
import torch

from seqtasks import LSTMEncoder
from seqtasks.cli import main
from seqtasks.core.config import EncoderConfig, RunConfig, TrainConfig
from seqtasks.engine.distributed import Runtime
from seqtasks.engine.training import train_epoch
from seqtasks.experiments.bench import synthetic_split
from seqtasks.model.cells import CELLS
from seqtasks.tasks import build_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available())")
FEW = ["--set=train.epochs=1", "--set=train.max_steps=5", "--set=encoder.vectors=", "--set=encoder.vectors_vocab=0"]


@pytest.fixture
def full_fp32(monkeypatch):
    """cuDNN and cuBLAS run fp32 matrix work as TF32 by default (about 1e-3 relative error): compare
    with the CPU in full fp32."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)


def ragged(seed=0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([9, 3, 6, 1])
    token_ids = torch.randint(2, 40, (4, 9), generator=generator) * (torch.arange(9)[None] < lengths[:, None])
    return token_ids, lengths


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_every_cell_on_cuda_equals_the_cpu(cell, full_fp32):
    torch.manual_seed(0)
    encoder = LSTMEncoder(40, 8, 6, cell=cell).eval()
    token_ids, lengths = ragged()
    on_cpu = encoder(token_ids, lengths)
    on_gpu = encoder.cuda()(token_ids.cuda(), lengths.cuda())
    torch.testing.assert_close(on_gpu.states.cpu(), on_cpu.states, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(on_gpu.final.cpu(), on_cpu.final, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("task", ["text-classification", "token-classification"])
def test_a_training_step_on_cuda_gives_the_cpu_loss_and_gradients(task, full_fp32):
    config = RunConfig(task=task, encoder=EncoderConfig(embedding_dim=8, hidden_size=6, dropout=0.0, vectors=""),
                       train=TrainConfig(batch_size=4))
    config.head.dropout = 0.0
    torch.manual_seed(0)
    model = build_model(config, 40, ["a", "b", "c"])
    split = synthetic_split(8, 7, 40, 3, task == "token-classification", seed=0)
    batch = split.batch(torch.arange(8))
    cpu_loss = model(batch).loss
    cpu_loss.backward()
    cpu_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.cuda()
    gpu_loss = model(batch.to("cuda")).loss
    gpu_loss.backward()
    torch.testing.assert_close(gpu_loss.cpu(), cpu_loss, rtol=1e-4, atol=1e-5)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad.cpu(), cpu_grads[name], rtol=1e-3, atol=1e-5, msg=name)


def test_an_epoch_on_cuda_ends_at_the_cpu_weights(full_fp32):
    config = RunConfig(task="token-classification",
                       encoder=EncoderConfig(embedding_dim=8, hidden_size=6, dropout=0.0, vectors=""),
                       train=TrainConfig(batch_size=4))
    config.head.dropout = 0.0
    split = synthetic_split(40, 7, 40, 3, True, seed=0)
    batches = list(torch.randperm(40, generator=torch.Generator().manual_seed(0)).split(4))
    weights = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = build_model(config, 40, ["a", "b", "c"]).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        train_epoch(model, optimizer, split, batches, config.train, device, "epoch", Runtime(torch.device(device)))
        weights[device] = {name: value.cpu() for name, value in model.state_dict().items()}
    for name, value in weights["cpu"].items():
        torch.testing.assert_close(weights["cuda"][name], value, rtol=1e-3, atol=1e-4, msg=name)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_without_non_finite_losses(amp):
    config = RunConfig(encoder=EncoderConfig(embedding_dim=8, hidden_size=6, vectors=""), train=TrainConfig(batch_size=4))
    torch.manual_seed(0)
    model = build_model(config, 40, ["a", "b", "c"]).cuda()
    runtime = Runtime(torch.device("cuda"), amp)
    optimizer = torch.optim.AdamW(model.parameters())
    split = synthetic_split(32, 7, 40, 3, False, seed=0)
    loss = train_epoch(model, optimizer, split, list(torch.arange(32).split(4)), config.train, "cuda", "amp",
                       runtime, runtime.scaler())
    assert torch.isfinite(torch.tensor(loss))


def test_train_evaluate_predict_and_from_pretrained_on_cuda(data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "sst2"
    assert main(["train", "sst2", "--out", str(out), "--device", "cuda", "--amp", "bf16", *FEW]) == 0
    assert json.loads((out / "metrics.json").read_text())["device"].startswith("cuda:0 (")
    assert main(["evaluate", str(out), "--data", str(data_dir / "sst2" / "stsa.binary.dev"), "--device", "cuda"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a fine film\n")))
    assert main(["predict", str(out), "--device", "cuda"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in {"0", "1"}
    assert main(["diagnose", str(out), "--data", str(data_dir / "sst2" / "stsa.binary.dev"), "--examples", "16",
                 "--device", "cuda", "--out", str(tmp_path / "diagnostics")]) == 0
    encoder = LSTMEncoder.from_pretrained(out, map_location="cuda")
    assert encoder.encode(["a fine film"]).final.device.type == "cuda"


def test_a_crf_tagger_trains_and_evaluates_on_cuda(data_dir, tmp_path):
    """Scoring brings the emissions to the CPU while the CRF's transitions stay on the GPU."""
    out = tmp_path / "conll-ner"
    assert main(["train", "conll-ner", "--out", str(out), "--device", "cuda", *FEW]) == 0
    assert json.loads((out / "metrics.json").read_text())["dev"]["f1"] >= 0
    assert main(["evaluate", str(out), "--data", str(data_dir / "conll2003" / "eng.testa"), "--device", "cuda"]) == 0
