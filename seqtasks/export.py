"""Deploy a trained run: `export_run` writes it as an ONNX graph (and an int8 one), `load_onnx` reads
that back under onnxruntime as a Run with the same `predict`, `evaluate` and `embed` as the torch one.
Both need the `onnx` extra: pip install 'seqtasks[onnx]'. How the graph is built: seqtasks/tools/deploy.py."""
from __future__ import annotations

from pathlib import Path

from seqtasks.api import Run
from seqtasks.tools.deploy import export_run, load_deployed


def load_onnx(run_dir: str | Path, int8: bool = False, threads: int = 0, task: str = "") -> Run:
    """The run's exported graph (model.onnx, or with int8 model.int8.onnx; a multi-task run's `task`);
    `threads` caps onnxruntime's intra-op threads (0: its default)."""
    return Run(load_deployed(run_dir, int8, threads, task))


__all__ = ["export_run", "load_onnx"]
