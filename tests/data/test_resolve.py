import hashlib
import http.server
import json
import threading
from functools import partial

import pytest

from seqtasks.data.resolve import DataNotFoundError, all_sources, resolve_split


def test_sources_match_the_manifests(data_dir):
    for name, source in all_sources().items():
        manifest = json.loads((data_dir / name / "MANIFEST.json").read_text())
        assert (source.repo, source.commit) == (manifest["source_repo"], manifest["source_commit"])
        for split, entry in source.splits.items():
            assert (entry.file, entry.sha256, entry.examples) == (
                manifest["splits"][split]["file"], manifest["splits"][split]["sha256"],
                manifest["splits"][split]["examples"])
            assert entry.source_path in manifest["source_paths"]


def test_data_dir_comes_first(data_dir):
    resolved = resolve_split("sst2", "dev")
    assert resolved.origin == "data_dir" and resolved.path == data_dir / "sst2" / "stsa.binary.dev"
    assert resolved.sha256 == all_sources()["sst2"].splits["dev"].sha256


@pytest.fixture
def mirror(tmp_path, data_dir, monkeypatch):
    """A loopback HTTP server laid out like the upstream raw-file host, holding sst2's dev file."""
    source = all_sources()["sst2"]
    target = tmp_path / "mirror" / source.repo / source.commit / source.splits["dev"].source_path
    target.parent.mkdir(parents=True)
    target.write_bytes((data_dir / "sst2" / "stsa.binary.dev").read_bytes())
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "mirror"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("SEQTASKS_DATA_DIR")
    monkeypatch.setenv("SEQTASKS_DOWNLOAD_URL", f"http://127.0.0.1:{server.server_port}")
    yield target
    server.shutdown()


def test_download_verifies_checksum_then_cache_is_used(mirror):
    first = resolve_split("sst2", "dev")
    assert first.origin == "download"
    assert hashlib.sha256(first.path.read_bytes()).hexdigest() == first.sha256
    mirror.unlink()  # the source is gone: the verified cache must serve
    second = resolve_split("sst2", "dev")
    assert second.origin == "cache" and second.path == first.path


def test_corrupt_download_is_refused_and_leaves_nothing(mirror):
    mirror.write_bytes(b"0 tampered\n")
    with pytest.raises(DataNotFoundError, match="checksum mismatch"):
        resolve_split("sst2", "dev")
    from seqtasks.data.resolve import cache_dir

    assert not list((cache_dir() / "sst2").iterdir())


def test_offline_error_says_which_file_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQTASKS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SEQTASKS_DOWNLOAD_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(DataNotFoundError) as error:
        resolve_split("trec", "train_coarse")
    message = str(error.value)
    assert f"{tmp_path}/trec/TREC.train.all" in message and "SEQTASKS_DATA_DIR" in message
