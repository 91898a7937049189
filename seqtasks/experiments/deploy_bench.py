"""`seqtasks bench --onnx RUN [RUN ...]`: inference speed of a trained run's dev split under torch
(eager), onnxruntime fp32 and onnxruntime int8, at batch 1 and batch 256, with each backend's file
size and dev metric, all in one process on one machine, so the ratios are comparable. The run is
exported first when it has no int8 graph yet.

Each timing covers what predict does after tokenizing: batching the encoded rows, the forward pass
and the task's outputs (seqtasks.tasks.inference.batch_outputs), the same code for every backend.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from seqtasks.core.errors import ConfigError
from seqtasks.engine.prepare import read_split
from seqtasks.engine.run import LoadedRun, RunFolder, load_run
from seqtasks.tasks.inference import batch_outputs
from seqtasks.tools.deploy import export_run, load_deployed

BATCH_SIZES = (1, 256)


def tokens_per_second(run: LoadedRun, split, batch_size: int, rounds: int = 3) -> float:
    """The best of `rounds` passes over the split (after one warm-up pass over a few rows)."""
    tokens = int(split.lengths.sum())
    next(batch_outputs(run.model, run.task, split, batch_size), None)  # warm-up: the first batch only
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in batch_outputs(run.model, run.task, split, batch_size):
            pass
        best = min(best, time.perf_counter() - start)
    return tokens / best


def bench_run(run_dir: Path, log: Callable[[str], None]) -> dict:
    torch_run = load_run(run_dir)
    config = torch_run.config
    if not config.data.dev:
        raise ConfigError(f"{run_dir}: bench --onnx scores a dev split, and this run carved its own (data.dev is empty)")
    if not RunFolder(Path(run_dir)).graph(int8=True).is_file():
        log(f"bench --onnx: exporting {run_dir}")
        export_run(run_dir, int8=True)
    dev = read_split(config, config.data.dev)
    split = torch_run.task.encode(dev.rows, torch_run.vocab, torch_run.labels, dev.source, config.data.max_tokens,
                                  config.encoder.chars)
    metric = torch_run.task.selection_metric(torch_run.labels.labels)
    folder = RunFolder(Path(run_dir))
    backends = {"torch": (torch_run, folder.best),
                "onnxruntime fp32": (load_deployed(run_dir), folder.graph(int8=False)),
                "onnxruntime int8": (load_deployed(run_dir, int8=True), folder.graph(int8=True))}
    rows = []
    predictions = {}
    for name, (run, path) in backends.items():
        log(f"bench --onnx: {run_dir.name}, {name}")
        predictions[name] = run.task.predictions(run.model, split)
        scores = run.task.metrics(split, predictions[name], run.labels.labels)
        row = {"backend": name, "bytes": path.stat().st_size, metric: scores[metric]}
        for size in BATCH_SIZES:
            row[f"tokens_per_s_batch_{size}"] = tokens_per_second(run, split, size)
        rows.append(row)
    for row in rows:
        for size in BATCH_SIZES:
            key = f"tokens_per_s_batch_{size}"
            row[f"speedup_batch_{size}"] = row[key] / rows[0][key]
    return {"run": str(run_dir), "recipe": config.recipe, "metric": metric, "rows_scored": len(split),
            "tokens": int(split.lengths.sum()), "threads": torch.get_num_threads(),
            "int8_same_predictions": same_share(config.task, predictions["onnxruntime fp32"],
                                                predictions["onnxruntime int8"]),
            "backends": rows}


def same_share(task: str, first, second) -> float:
    """The share of rows with the same prediction: label, tag path, paraphrase decision, or a score
    within 0.01."""
    if task == "token-classification":
        return sum(a == b for a, b in zip(first, second)) / max(len(first), 1)
    if task == "text-classification":
        same = first.argmax(-1) == second.argmax(-1)
    elif task == "pair-classification":
        same = (first[:, 1] > 0) == (second[:, 1] > 0)
    else:
        same = ((first - second).abs() < 0.01).reshape(len(first), -1).all(-1)
    return float(same.float().mean())


def run_deploy_bench(run_dirs: list[str], log: Callable[[str], None] = print) -> dict:
    return {"runs": [bench_run(Path(run_dir), log) for run_dir in run_dirs]}


def deploy_table(result: dict) -> str:
    lines = ["| run | backend | tokens/s, batch 1 | tokens/s, batch 256 | x torch (1 / 256) | file | dev metric |",
             "|---|---|---|---|---|---|---|"]
    for run in result["runs"]:
        for row in run["backends"]:
            lines.append(f"| {run['recipe']} | {row['backend']} | {row['tokens_per_s_batch_1']:,.0f} | "
                         f"{row['tokens_per_s_batch_256']:,.0f} | {row['speedup_batch_1']:.2f} / "
                         f"{row['speedup_batch_256']:.2f} | {row['bytes'] / 1e6:.1f} MB | "
                         f"{run['metric']} {row[run['metric']]:.4f} |")
    shares = ", ".join(f"{run['recipe']} {run['int8_same_predictions']:.1%}" for run in result["runs"])
    return "\n".join(lines) + f"\nint8 predictions identical to fp32: {shares}"
