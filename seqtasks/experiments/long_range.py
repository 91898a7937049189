"""The long-range memory experiment: every cell variant, the same budget, growing T.

Each (task, T, cell) trains for the same number of optimizer steps on the same freshly
generated examples (one pass, nothing repeated), with the same width H, so the cells differ
only in their equations. Parameter counts differ with the equations (tied_gates and rnn have
fewer matrices) and are reported next to the results rather than equalised by changing H,
because the claims under test are about the gating, not the size.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from seqtasks.core.checkpoint import write_json
from seqtasks.core.config import (
    DataConfig,
    EncoderConfig,
    HeadConfig,
    RunConfig,
    TrainConfig,
    to_dict,
)
from seqtasks.core.errors import ConfigError
from seqtasks.core.plots import pyplot, save_figure
from seqtasks.engine.pipeline import train_best
from seqtasks.engine.provenance import write_record
from seqtasks.engine.sweep import resumable, split_list
from seqtasks.experiments.synthetic import TASKS, score_adding
from seqtasks.tasks import get_task
from seqtasks.tools.diagnostics import gradient_flow, trace_gradients


def run_config_for(config, task: str, cell: str) -> RunConfig:
    _, _, kind, _ = TASKS[task]
    return RunConfig(
        recipe=config.recipe,
        task=kind,
        data=DataConfig(dataset=f"synthetic-{task}", train="generated", dev="generated"),
        encoder=EncoderConfig(embedding_dim=config.embedding_dim, hidden_size=config.hidden_size,
                              bidirectional=False, dropout=0.0, cell=cell, vectors="",
                              forget_bias=None if cell == "rnn" else config.forget_bias),
        head=HeadConfig(pooling="last", hidden_size=0, dropout=0.0),
        train=TrainConfig(seed=config.seed, epochs=1, batch_size=config.batch_size, lr=config.lr,
                          weight_decay=0.0, clip_norm=1.0, patience=1, threads=config.threads),
    )


def train_one(config, task: str, length: int, cell: str, out_dir: Path) -> dict:
    """Train one cell on one (task, T); its result row and, at probe_length, its gradient flow."""
    generate, vocab_size, kind, labels = TASKS[task]
    generator = torch.Generator().manual_seed(config.seed * 1000 + length)  # same data for every cell
    train_split = generate(config.steps * config.batch_size, length, generator)
    dev_split = generate(config.dev_examples, length, generator)
    run_config = run_config_for(config, task, cell)
    torch.manual_seed(config.seed)
    model = get_task(kind).build_model(run_config, vocab_size, labels)
    if task == "adding":
        score = score_adding
    else:
        def score(model, split):
            return get_task(kind).score(model, split, labels)
    write_json(out_dir / "config.json", to_dict(run_config))
    state, dev = train_best(model, train_split, dev_split, run_config, out_dir, score, "accuracy")
    row = {"task": task, "T": length, "cell": cell, "parameters": sum(p.numel() for p in model.parameters()),
           "dev": dev, "train_seconds": state.history[-1]["train_seconds"]}
    flow = []
    if length == config.probe_length:
        batch = dev_split.batch(torch.arange(min(64, len(dev_split))))
        model.eval()
        traces = trace_gradients(model.encoder, batch.token_ids, batch.lengths,
                                 lambda out: model.head(out, batch).loss)
        flow = [asdict(f) for f in gradient_flow(traces, batch.lengths)]
    result = {"row": row, "gradient_flow": flow}
    write_json(out_dir / "result.json", result)
    return result


def run(config, run_dir: Path, resume: bool = False) -> dict:
    rows, flows = [], {}
    write_json(run_dir / "config.json", asdict(config))  # first, so an interrupted run can be resumed
    if config.threads:
        torch.set_num_threads(config.threads)
    for task in split_list(config.tasks):
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
        for length in (int(t) for t in split_list(config.lengths)):
            for cell in split_list(config.cells):
                out_dir = run_dir / f"{task}-T{length}-{cell}"

                def cell_run(task=task, length=length, cell=cell, out_dir=out_dir) -> dict:
                    print(f"{task}, T={length}, cell={cell}")
                    return train_one(config, task, length, cell, out_dir)

                result = resumable(out_dir / "result.json", resume, cell_run)
                rows.append(result["row"])
                if result["gradient_flow"]:
                    flows[f"{task}/{cell}"] = result["gradient_flow"]
    table = results_table(rows)
    (run_dir / "results.md").write_text(table + "\n")
    plot_results(rows, run_dir / "accuracy_vs_length.png")
    if flows:
        plot_flows(flows, run_dir / "gradient_flow.png", config.probe_length)
    record = write_record(run_dir / "metrics.json", {"results": rows, "gradient_flow": flows}, config, config.seed,
                          {"synthetic": "seqtasks.experiments.synthetic, seeded"})
    print(table)
    return record


def results_table(rows: list[dict]) -> str:
    """Markdown: one row per (task, cell), one column per T; adding shows solved share and MSE."""
    lengths = sorted({r["T"] for r in rows})
    lines = ["| task | cell | parameters | " + " | ".join(f"T={t}" for t in lengths) + " |",
             "|---|---|---|" + "---|" * len(lengths)]
    for task in dict.fromkeys(r["task"] for r in rows):
        for cell in dict.fromkeys(r["cell"] for r in rows if r["task"] == task):
            cells = {r["T"]: r for r in rows if r["task"] == task and r["cell"] == cell}
            shown = []
            for t in lengths:
                dev = cells[t]["dev"] if t in cells else None
                if dev is None:
                    shown.append("")
                elif task == "adding":
                    shown.append(f"{dev['accuracy']:.3f} (MSE {dev['mse']:.3f})")
                else:
                    shown.append(f"{dev['accuracy']:.3f}")
            params = next(iter(cells.values()))["parameters"]
            lines.append(f"| {task} | {cell} | {params:,} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def plot_results(rows: list[dict], path: Path) -> None:
    plt = pyplot()
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        for cell in dict.fromkeys(r["cell"] for r in rows if r["task"] == task):
            points = sorted((r["T"], r["dev"]["accuracy"]) for r in rows if r["task"] == task and r["cell"] == cell)
            axis.plot(*zip(*points), marker="o", label=cell)
        chance = 1 / len(TASKS["recall"][3]) if task == "recall" else None
        if chance:
            axis.axhline(chance, color="grey", linestyle=":", label="chance")
        ylabel = f"dev share within {0.04} of the sum" if task == "adding" else "dev accuracy"
        lengths = sorted({r["T"] for r in rows})
        axis.set(title=task, xlabel="sequence length T", ylabel=ylabel, ylim=(0, 1.02), xscale="log")
        axis.set_xticks(lengths, [str(t) for t in lengths])
        axis.minorticks_off()
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_flows(flows: dict[str, list[dict]], path: Path, length: int) -> None:
    plt = pyplot()
    tasks = list(dict.fromkeys(key.split("/")[0] for key in flows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        for key, flow in flows.items():
            if key.startswith(task + "/"):
                grad = torch.tensor(flow[0]["grad_c"])
                axis.semilogy(flow[0]["distance"], (grad / grad[0].clamp(min=1e-30)).tolist(), label=key.split("/")[1])
        axis.set(title=f"{task}, T={length}: ||dL/dc_k|| / ||dL/dc_T||", xlabel="steps back from h_T (T - k)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)

