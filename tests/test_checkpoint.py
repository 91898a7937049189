import pytest
import torch
from safetensors.torch import save_file

from seqtasks.core.checkpoint import (
    CheckpointError,
    atomic_write,
    load_weights,
    save_weights,
)


def test_round_trip(tmp_path):
    source, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    save_weights(source, tmp_path / "w.safetensors")
    load_weights(target, tmp_path / "w.safetensors")
    assert torch.equal(source.weight, target.weight)


def test_a_write_killed_midway_keeps_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")

    def dies_midway(temp):
        with open(temp, "w") as handle:
            handle.write("half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, dies_midway)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "best.safetensors"
    save_weights(torch.nn.Linear(3, 2), path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="best.safetensors: unreadable or corrupt"):
        load_weights(torch.nn.Linear(3, 2), path)


def test_foreign_safetensors_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 3), "bias": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a seqtasks model checkpoint"):
        load_weights(torch.nn.Linear(3, 2), path)


def test_checkpoint_of_another_shape_names_the_tensors(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(torch.nn.Linear(4, 2), path)
    with pytest.raises(CheckpointError, match=r"wrong shape: \['weight'\]"):
        load_weights(torch.nn.Linear(3, 2), path)


def test_written_files_get_ordinary_permissions(tmp_path):
    import os

    from seqtasks.core.checkpoint import current_umask, write_json

    write_json(tmp_path / "m.json", {"a": 1})
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert os.access(tmp_path / "m.json", os.R_OK)
