"""Checkpoints as safetensors + JSON, written atomically; nothing is unpickled from disk.

Every file goes to a temporary name in the same folder and is renamed over the target, so a
kill mid-write leaves either the old file or the new one, never half of one. Weight files
carry `{"format": "seqtasks", "kind": ...}` in their safetensors header, so a file from
elsewhere is refused by name rather than half-loaded.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from seqtasks.core.errors import CheckpointError

FORMAT = "seqtasks"


def atomic_write(path: Path | str, write: Callable[[str], None]) -> None:
    """Call write(temp_path), fsync it, then rename it over path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        os.chmod(temp_name, 0o666 & ~current_umask())  # mkstemp makes files owner-only; files normally aren't
        write(temp_name)
        with open(temp_name, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp_name, path)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def strict_json(data: Any, **options: Any) -> str:
    """JSON text, refusing NaN and infinities (which json.dumps would write as bare NaN, not JSON):
    a non-finite number here is a bug upstream, and must not reach a file another tool reads."""
    try:
        return json.dumps(data, allow_nan=False, **options)
    except ValueError as error:
        raise ValueError(f"refusing to write a non-finite number as JSON ({error}): {data!r:.300}") from None


def write_json(path: Path | str, data: Any) -> None:
    text = strict_json(data, indent=2) + "\n"
    atomic_write(path, lambda temp: Path(temp).write_text(text))


def save_tensors(path: Path | str, tensors: dict[str, torch.Tensor], kind: str,
                 metadata: dict[str, str] | None = None) -> None:
    """`metadata` joins the header's format and kind (e.g. the checksums of the run's inputs)."""
    tensors = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
    header = {**(metadata or {}), "format": FORMAT, "kind": kind}

    def write(temp: str) -> None:
        save_file(tensors, temp, metadata=header)
        os.chmod(temp, 0o666 & ~current_umask())  # safetensors creates the file anew, owner-only

    atomic_write(path, write)


def read_metadata(path: Path | str) -> dict[str, str]:
    """A checkpoint's header metadata, without reading its tensors."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: unreadable or corrupt checkpoint ({error})") from error


def load_tensors(path: Path | str, kind: str, device: str = "cpu") -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with safe_open(str(path), framework="pt", device=device) as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != FORMAT or metadata.get("kind") != kind:
                raise CheckpointError(
                    f"{path}: not a seqtasks {kind} checkpoint (header metadata {metadata or 'missing'})"
                )
            return {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except (SafetensorError, OSError, ValueError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"{path}: unreadable or corrupt checkpoint ({error})") from error


def load_weights(module: torch.nn.Module, path: Path | str, device: str = "cpu") -> None:
    """Load a 'model' checkpoint, refusing missing, unexpected or mis-shaped tensors."""
    load_state(module, load_tensors(path, "model", device), path)


def load_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path | str) -> None:
    """load_state_dict, with missing, unexpected and mis-shaped tensors reported by name."""
    expected = module.state_dict()
    missing = sorted(expected.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - expected.keys())
    wrong = sorted(k for k in expected.keys() & tensors.keys() if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{label}: {names[:5]}{' ...' if len(names) > 5 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if names
        )
        raise CheckpointError(f"{path}: does not fit this model's config ({detail})")
    module.load_state_dict(tensors)


def save_weights(module: torch.nn.Module, path: Path | str, metadata: dict[str, str] | None = None) -> None:
    save_tensors(path, module.state_dict(), "model", metadata)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state into tensors (for safetensors) and JSON-able scalars."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for param_id, entries in state["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{param_id}.{key}"] = value
            else:
                scalars[f"{param_id}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, param_id, key = name.split(".", 2)
        state.setdefault(int(param_id), {})[key] = value
    for name, value in meta["scalars"].items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
