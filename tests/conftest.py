import os
from pathlib import Path

import pytest

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
