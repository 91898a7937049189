"""Is h_T enough, or does attention help? (seed Q12, Q19) The same encoder and budget per task,
only the pooling changes: last (h_T), mean, max and attention, over several seeds.

Each (task, pooling, seed) is an ordinary run of the task's own recipe, with `head.pooling` and
`train.seed` changed, in its own folder; an interrupted comparison resumes run by run.
"""
from __future__ import annotations

import dataclasses
import json
import platform
import statistics
from pathlib import Path

import torch

from seqtasks import pipeline
from seqtasks.checkpoint import write_json
from seqtasks.config import apply_overrides
from seqtasks.long_range import split_list
from seqtasks.plots import pyplot, save_figure
from seqtasks.run import library_versions


def dev_metric(task_config) -> str:
    return "pearson" if task_config.head.name == "matching" else "accuracy"


def train_one(config, task: str, pooling: str, seed: int, out_dir: Path, resume: bool) -> dict:
    from recipes import load_recipe

    if resume and (out_dir / "metrics.json").is_file():
        return json.loads((out_dir / "metrics.json").read_text())
    overrides = [f"head.pooling={pooling}", f"train.seed={seed}", f"train.threads={config.threads}"]
    if config.epochs:
        overrides.append(f"train.epochs={config.epochs}")
    if config.max_steps:
        overrides.append(f"train.max_steps={config.max_steps}")
    task_config = apply_overrides(load_recipe(task).Config(), overrides)
    print(f"{task}, pooling={pooling}, seed={seed}")
    return pipeline.run(task_config, out_dir)


def run(config, run_dir: Path, resume: bool = False) -> dict:
    from recipes import load_recipe

    write_json(run_dir / "config.json", dataclasses.asdict(config))  # first, so an interrupted run can be resumed
    if config.threads:
        torch.set_num_threads(config.threads)
    rows = []
    for task in split_list(config.tasks):
        metric = dev_metric(load_recipe(task).Config())
        for pooling in split_list(config.poolings):
            scores, seconds = [], 0.0
            for seed in (int(s) for s in split_list(config.seeds)):
                result = train_one(config, task, pooling, seed, run_dir / task / pooling / f"seed-{seed}", resume)
                scores.append(result["dev"][metric])
                seconds += result["train_seconds"]
            rows.append({"task": task, "pooling": pooling, "metric": metric, "scores": scores,
                         "mean": statistics.mean(scores), "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                         "train_seconds": round(seconds, 1)})
    table = results_table(rows)
    (run_dir / "results.md").write_text(table + "\n")
    plot_results(rows, run_dir / "pooling.png")
    record = {"recipe": config.recipe, "results": rows, "config": dataclasses.asdict(config),
              "seeds": split_list(config.seeds), "data": "see each run's metrics.json (checksums per run)",
              "versions": library_versions(), "machine": f"{platform.machine()} {platform.system()}"}
    write_json(run_dir / "metrics.json", record)
    print(table)
    return record


def results_table(rows: list[dict]) -> str:
    """Markdown: one row per task, one column per pooling, mean ± std of the dev metric; best in bold."""
    poolings = list(dict.fromkeys(r["pooling"] for r in rows))
    lines = ["| task (dev metric) | " + " | ".join(poolings) + " |", "|---|" + "---|" * len(poolings)]
    for task in dict.fromkeys(r["task"] for r in rows):
        cells = {r["pooling"]: r for r in rows if r["task"] == task}
        best = max(cells.values(), key=lambda r: r["mean"])["pooling"]
        shown = []
        for pooling in poolings:
            r = cells.get(pooling)
            text = f"{r['mean']:.3f} ± {r['std']:.3f}" if r else ""
            shown.append(f"**{text}**" if pooling == best else text)
        lines.append(f"| {task} ({next(iter(cells.values()))['metric']}) | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def plot_results(rows: list[dict], path: Path) -> None:
    plt = pyplot()
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    poolings = list(dict.fromkeys(r["pooling"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks), 3.6), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        cells = [next(r for r in rows if r["task"] == task and r["pooling"] == p) for p in poolings]
        axis.bar(poolings, [c["mean"] for c in cells], yerr=[c["std"] for c in cells], capsize=4,
                 color=["#888888", "#4c72b0", "#55a868", "#c44e52"][: len(poolings)])
        low = min(c["mean"] - c["std"] for c in cells)
        axis.set(title=task, ylabel=f"dev {cells[0]['metric']} (mean ± std)", ylim=(max(0.0, low - 0.05), None))
        axis.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
