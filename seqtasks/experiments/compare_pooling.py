"""Is h_T enough, or does attention help? (seed Q12, Q19) The same encoder and budget per task,
only the pooling changes: last (h_T), mean, max and attention, over several seeds.

Each (task, pooling, seed) is an ordinary run of the task's own recipe, with `head.pooling` and
`train.seed` changed, in its own folder; an interrupted comparison resumes run by run.
"""
from __future__ import annotations

import copy
import statistics
from pathlib import Path

import torch

from heads.pooling import POOLINGS
from seqtasks.core.checkpoint import write_json
from seqtasks.core.config import RunConfig, apply_overrides, to_dict
from seqtasks.core.plots import pyplot, save_figure
from seqtasks.engine import pipeline
from seqtasks.engine.provenance import write_record
from seqtasks.engine.sweep import choice_list, int_list, resumable, split_list


def train_one(config, task_config: RunConfig, pooling: str, seed: int, out_dir: Path, resume: bool) -> dict:
    overrides = [f"head.pooling={pooling}", f"train.seed={seed}", f"train.threads={config.threads}"]
    if config.epochs:
        overrides.append(f"train.epochs={config.epochs}")
    if config.max_steps:
        overrides.append(f"train.max_steps={config.max_steps}")
    run_config = apply_overrides(copy.deepcopy(task_config), overrides)

    def produce() -> dict:
        print(f"{run_config.recipe}, pooling={pooling}, seed={seed}")
        return pipeline.run(run_config, out_dir)

    return resumable(out_dir / "metrics.json", resume, produce)


def run(config, task_configs: dict[str, RunConfig], run_dir: Path, resume: bool = False) -> dict:
    """`task_configs`: each task's own recipe config (the recipe script looks them up by name)."""
    poolings, seeds = choice_list(config.poolings, "poolings", POOLINGS), int_list(config.seeds, "seeds")
    write_json(run_dir / "config.json", to_dict(config))  # first, so an interrupted run can be resumed
    if config.threads:
        torch.set_num_threads(config.threads)
    rows = []
    for task, task_config in task_configs.items():
        for pooling in poolings:
            scores, seconds, metric = [], 0.0, ""
            for seed in seeds:
                result = train_one(config, task_config, pooling, seed, run_dir / task / pooling / f"seed-{seed}",
                                   resume)
                metric = result["selected_on"].removeprefix("dev ")  # what the task selects its epochs on
                scores.append(result["dev"][metric])
                seconds += result["train_seconds"]
            rows.append({"task": task, "pooling": pooling, "metric": metric, "scores": scores,
                         "mean": statistics.mean(scores), "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                         "train_seconds": round(seconds, 1)})
    table = results_table(rows)
    (run_dir / "results.md").write_text(table + "\n")
    plot_results(rows, run_dir / "pooling.png")
    record = write_record(run_dir / "metrics.json", {"results": rows}, config, split_list(config.seeds),
                          "see each run's metrics.json (checksums per run)")
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
