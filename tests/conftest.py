import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from seqtasks.engine import training

REPO = Path(__file__).resolve().parents[1]
if not os.environ.get("SEQTASKS_DATA_DIR") and (REPO.parent / "shared" / "datasets").is_dir():
    os.environ["SEQTASKS_DATA_DIR"] = str(REPO.parent / "shared" / "datasets")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("SEQTASKS_DATA_DIR", ""))
    if not (path / "sst2" / "MANIFEST.json").is_file():
        pytest.skip("the shared datasets are not available: set SEQTASKS_DATA_DIR")
    return path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or fills the user's real download cache."""
    monkeypatch.setenv("SEQTASKS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def history_without_timing(run_dir: Path) -> list[dict]:
    """A run's log.jsonl without the wall-clock fields, which differ between two equal runs."""
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.startswith("train_s") and "per_s" not in k} for row in rows]


@pytest.fixture
def run_history():
    """history_without_timing, for the tests that compare two runs' logs."""
    return history_without_timing


@pytest.fixture
def resumes_exactly(tmp_path, monkeypatch):
    """check(train): train(run_dir, resume) killed in its second epoch, then resumed, ends where an
    uninterrupted run ends: the same log and the same best weights.

    On one thread: with two, a busy machine lets the BLAS pick its thread count per call, and two
    equal runs then differ in the last bit of their weights whether or not one was resumed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield lambda train: check_resume(train, tmp_path, monkeypatch)
    torch.set_num_threads(threads)


def check_resume(train, tmp_path: Path, monkeypatch) -> None:
    train(tmp_path / "whole", False)
    real_epoch, calls = training.train_epoch, []

    def killed_in_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(training, "train_epoch", killed_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "killed", False)
    monkeypatch.setattr(training, "train_epoch", real_epoch)
    assert len(history_without_timing(tmp_path / "killed")) == 1
    train(tmp_path / "killed", True)
    assert history_without_timing(tmp_path / "killed") == history_without_timing(tmp_path / "whole")
    whole, resumed = (load_file(tmp_path / name / "best.safetensors") for name in ("whole", "killed"))
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)
