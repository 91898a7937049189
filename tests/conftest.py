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
def one_thread():
    """Two equal runs on two threads of a busy machine can differ in the last bit of their weights (the
    BLAS picks its thread count per call), whether or not one was resumed: the resume tests use one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def resumes_exactly(tmp_path, monkeypatch, one_thread):
    """check(train): train(run_dir, resume) killed in its second epoch, then resumed, ends where an
    uninterrupted run ends: the same log and the same best weights."""
    return lambda train: check_resume(train, tmp_path, monkeypatch)


REAL_EPOCH = training.train_epoch


@pytest.fixture
def count_epochs(monkeypatch):
    """count_epochs(kill_at=0): from now on every training epoch is counted in the list returned, and
    the kill_at-th raises KeyboardInterrupt, as a kill would."""
    return lambda kill_at=0: counted_epochs(monkeypatch, kill_at)


def counted_epochs(monkeypatch, kill_at: int = 0) -> list:
    calls = []

    def epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == kill_at:
            raise KeyboardInterrupt
        return REAL_EPOCH(*args, **kwargs)

    monkeypatch.setattr(training, "train_epoch", epoch)
    return calls


def check_resume(train, tmp_path: Path, monkeypatch) -> None:
    train(tmp_path / "whole", False)
    counted_epochs(monkeypatch, kill_at=2)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "killed", False)
    monkeypatch.setattr(training, "train_epoch", REAL_EPOCH)
    assert len(history_without_timing(tmp_path / "killed")) == 1
    train(tmp_path / "killed", True)
    assert history_without_timing(tmp_path / "killed") == history_without_timing(tmp_path / "whole")
    whole, resumed = (load_file(tmp_path / name / "best.safetensors") for name in ("whole", "killed"))
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)
