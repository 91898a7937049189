"""Data parallelism through torchrun on CPU (gloo): 2 processes end with the weights 1 process ends
with on the same global batches, and a killed 2-process run resumes to the same end."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqtasks.core.checkpoint import load_tensors
from seqtasks.core.errors import ConfigError
from seqtasks.engine.distributed import Runtime, check_world, runtime

SMALL = ["--set=encoder.hidden_size=8", "--set=encoder.vectors=", "--set=encoder.dropout=0", "--set=head.dropout=0",
         "--set=train.batch_size=8", "--set=train.threads=1", "--device=cpu"]


def seqtasks(*args, processes: int = 1, **popen) -> subprocess.Popen:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"
                ] if processes > 1 else [sys.executable]
    # faulthandler: a rank that aborts at exit (gloo's threads; rare, seen in CI) shows where it was
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    return subprocess.Popen([*launcher, "-m", "seqtasks", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, **popen)


def finish(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0, out[-3000:]
    return out


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (torchrun starts its workers in sessions of their own)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(), [])
        found += children
        queue += children
    return found


def weights(run_dir) -> dict:
    return {k: v for k, v in load_tensors(run_dir / "last.safetensors", "training").items() if k.startswith("model.")}


def test_two_gloo_processes_end_with_the_weights_of_one(data_dir, tmp_path):
    budget = ["--set=train.epochs=2", "--set=train.max_steps=6"]
    finish(seqtasks("train", "sst2", "--out", str(tmp_path / "one"), *SMALL, *budget))
    out = finish(seqtasks("train", "sst2", "--out", str(tmp_path / "two"), *SMALL, *budget, processes=2))
    assert "x 2 processes (gloo)" in out
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-4, atol=1e-5, msg=name)
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["device"].endswith("(gloo)")


def test_a_language_model_under_two_gloo_processes_ends_with_the_weights_of_one(data_dir, tmp_path):
    """The biLM's adaptive softmax included: with output words past its first cluster (2,000), a
    batch may leave a tail cluster unused, which DDP must not wait for."""
    lines = [line.split(" ", 1)[1] for line in (data_dir / "sst2" / "stsa.binary.train").read_text(
        encoding="utf-8", errors="replace").splitlines()[:1500]]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    lm = ["--set", f"data.train={tmp_path / 'corpus.txt'}", "--set=train.epochs=1", "--set=train.max_steps=6",
          "--set=encoder.embedding_dim=8", "--set=data.output_words=3000"]
    finish(seqtasks("train", "language-model", "--out", str(tmp_path / "one"), *SMALL, *lm))
    out = finish(seqtasks("train", "language-model", "--out", str(tmp_path / "two"), *SMALL, *lm, processes=2))
    assert "x 2 processes (gloo)" in out
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert any("tail" in name for name in one)  # the softmax has a tail cluster
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-4, atol=1e-5, msg=name)


def test_a_killed_two_process_run_resumes_to_the_uninterrupted_end(data_dir, tmp_path):
    budget = ["--set=train.epochs=3", "--set=train.max_steps=40", "--set=train.patience=5"]
    finish(seqtasks("train", "sst2", "--out", str(tmp_path / "whole"), *SMALL, *budget, processes=2))
    killed = seqtasks("train", "sst2", "--out", str(tmp_path / "killed"), *SMALL, *budget, processes=2)
    state = tmp_path / "killed" / "trainer_state.json"
    while not state.is_file() and killed.poll() is None:
        time.sleep(0.02)
    for pid in [*descendants(killed.pid), killed.pid]:  # both ranks and the launcher, as a machine failure would
        os.kill(pid, signal.SIGKILL)
    killed.communicate()
    epochs_done = json.loads(state.read_text())["state"]["epoch"]
    assert epochs_done < 3, "the run ended before it could be killed"
    finish(seqtasks("train", "sst2", "--out", str(tmp_path / "killed"), "--resume", processes=2))
    whole, resumed = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    for name in whole:
        torch.testing.assert_close(resumed[name], whole[name], rtol=0, atol=0, msg=name)


def test_each_rank_takes_its_share_and_the_weights_average_to_the_batch_mean():
    index = torch.arange(10)
    shares = [Runtime(torch.device("cpu"), rank=r, world=3).share(index) for r in range(3)]
    assert torch.equal(torch.cat([rows for rows, _ in shares]), index)
    # DDP averages over 3 ranks: sum_r (w_r / 3) * mean_r = sum_r (n_r / n) * mean_r, the batch's mean
    assert [weight / 3 for _, weight in shares] == pytest.approx([len(rows) / 10 for rows, _ in shares])
    rows, weight = Runtime(torch.device("cpu"), rank=2, world=3).share(torch.arange(2))
    assert weight == 0.0 and len(rows) == 1  # no rows left: joins the all-reduce at weight 0
    # a loss averaged over tokens: each rank weighs by its share of the batch's tokens
    terms = torch.tensor([5, 1, 1, 1, 2, 9, 3, 1, 1, 6])
    shares = [Runtime(torch.device("cpu"), rank=r, world=3).share(index, terms) for r in range(3)]
    assert [weight / 3 for _, weight in shares] == pytest.approx([float(terms[rows].sum()) / 30 for rows, _ in shares])


def test_device_errors_name_the_fix():
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device .* use --device cpu"):
            runtime("cuda")
    with pytest.raises(ConfigError, match="--amp bf16 needs a GPU"):
        runtime("cpu", "bf16")
    with pytest.raises(ConfigError, match=r"use at most 8 processes \(--nproc-per-node\), or raise train.batch_size"):
        check_world(16, 8)
