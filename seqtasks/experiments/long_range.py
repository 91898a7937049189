"""The long-range memory experiment: every cell variant, the same budget, growing T.

Each (task, T, cell, seed) trains for the same number of optimizer steps on the same freshly
generated examples (one pass, nothing repeated), with the same width H, so the cells differ
only in their equations. Parameter counts differ with the equations (tied_gates and rnn have
fewer matrices) and are reported next to the results; a cell written `NAME:H` (e.g.
`tied_gates:94`) runs at width H instead, to compare at an equal parameter count.
With several seeds the table shows mean ± std over them.
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from seqtasks.core.checkpoint import load_weights, write_json
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
from seqtasks.engine.provenance import write_record
from seqtasks.engine.run import RunFolder, plot_curve
from seqtasks.engine.sweep import choice_list, int_list, resumable, split_list
from seqtasks.engine.training import train
from seqtasks.experiments.synthetic import TASKS, cue_positions
from seqtasks.model.cells import CELLS
from seqtasks.tools.diagnostics import DirectionTrace, gradient_flow, trace_gradients

CUE_WINDOW = range(-12, 2)  # steps around the cue at which the gated task's gate profile is read


@dataclass(frozen=True)
class CellSpec:
    """A cell of the comparison: its name, and a width of its own when written NAME:H."""

    cell: str
    width: int = 0  # 0: the experiment's hidden_size

    @classmethod
    def parse(cls, text: str) -> CellSpec:
        name, _, width = text.partition(":")
        if width and not width.isdigit():
            raise ConfigError(f"cells: {text!r} is not NAME or NAME:WIDTH")
        return cls(name, int(width or 0))

    @property
    def label(self) -> str:
        return f"{self.cell} (H={self.width})" if self.width else self.cell

    @property
    def folder(self) -> str:
        return f"{self.cell}-h{self.width}" if self.width else self.cell


def run_config_for(config, task: str, spec: CellSpec, seed: int) -> RunConfig:
    return RunConfig(
        recipe=config.recipe,
        task=TASKS[task].kind,
        data=DataConfig(dataset=f"synthetic-{task}", train="generated", dev="generated"),
        encoder=EncoderConfig(embedding_dim=config.embedding_dim, hidden_size=spec.width or config.hidden_size,
                              bidirectional=False, dropout=0.0, cell=spec.cell, vectors="",
                              forget_bias=None if spec.cell == "rnn" else config.forget_bias),
        head=HeadConfig(pooling="last", hidden_size=0, dropout=0.0),
        train=TrainConfig(seed=seed, epochs=1, batch_size=config.batch_size, lr=config.lr,
                          weight_decay=0.0, clip_norm=1.0, patience=1, threads=config.threads),
    )


def train_one(config, task: str, length: int, spec: CellSpec, seed: int, out_dir: Path) -> dict:
    """Train one cell on one (task, T, seed); its result row and, at probe_length, its gradient flow
    (and on the gated task the gate profile around the cue)."""
    synthetic = TASKS[task]
    generator = torch.Generator().manual_seed(seed * 1000 + length)  # same data for every cell
    train_split = synthetic.generate(config.steps * config.batch_size, length, generator)
    dev_split = synthetic.generate(config.dev_examples, length, generator)
    run_config = run_config_for(config, task, spec, seed)
    torch.manual_seed(seed)
    model = synthetic.build_model(run_config)
    score = synthetic.scorer()
    folder = RunFolder(out_dir)
    write_json(folder.config, to_dict(run_config))
    state = train(model, train_split, run_config.train, folder, lambda model: score(model, dev_split), "accuracy")
    load_weights(model, folder.best)
    plot_curve(state.history, "accuracy", folder.curve)
    dev = score(model, dev_split)
    row = {"task": task, "T": length, "cell": spec.label, "seed": seed,
           "parameters": sum(p.numel() for p in model.parameters()), "dev": dev,
           "train_seconds": state.history[-1]["train_seconds"]}
    flow, profile = [], {}
    if length == config.probe_length:
        rows = torch.arange(min(64, len(dev_split)))
        batch = dev_split.batch(rows)
        model.eval()
        traces = trace_gradients(model.encoder, batch.token_ids, batch.lengths,
                                 lambda out: model.head(out, batch).loss)
        flow = [asdict(f) for f in gradient_flow(traces, batch.lengths)]
        if task == "gated":
            profile = cue_profile(traces[0], cue_positions(dev_split)[rows])
    result = {"row": row, "gradient_flow": flow, "gate_profile": profile}
    write_json(out_dir / "result.json", result)
    return result


def cue_profile(trace: DirectionTrace, cues: torch.Tensor) -> dict:
    """Each gate's mean at every step offset from the cue, over all units and over the units that
    open most at the cue (the ones that let the key out): {gate: {"all": [...], "opening": [...]}}."""
    steps = trace.mask.shape[1]
    profile: dict = {"offsets": list(CUE_WINDOW)}
    for name, values in trace.gates.items():  # [B, T, H]
        rows = torch.arange(len(cues))
        aligned = torch.stack([values[rows, (cues + d).clamp(0, steps - 1)] for d in CUE_WINDOW], 1)  # [B, offsets, H]
        per_unit = aligned.mean(0)  # [offsets, H]
        at_cue = per_unit[CUE_WINDOW.index(0)]
        before = per_unit[: CUE_WINDOW.index(0)].mean(0)
        opening = (at_cue - before).topk(max(per_unit.shape[1] // 8, 1)).indices
        profile[name] = {"all": per_unit.mean(1).tolist(), "opening": per_unit[:, opening].mean(1).tolist()}
    return profile


def run(config, run_dir: Path, resume: bool = False) -> dict:
    rows, flows, profiles = [], {}, {}
    tasks, specs = choice_list(config.tasks, "tasks", TASKS), [CellSpec.parse(c) for c in split_list(config.cells)]
    choice_list(",".join(spec.cell for spec in specs), "cells", CELLS)
    seeds, lengths = int_list(config.seeds, "seeds"), int_list(config.lengths, "lengths", low=2)
    write_json(run_dir / "config.json", asdict(config))  # first, so an interrupted run can be resumed
    if config.threads:
        torch.set_num_threads(config.threads)
    for task in tasks:
        for length in lengths:
            for spec in specs:
                for seed in seeds:
                    out_dir = run_dir / f"{task}-T{length}-{spec.folder}" / f"seed-{seed}"

                    def cell_run(task=task, length=length, spec=spec, seed=seed, out_dir=out_dir) -> dict:
                        print(f"{task}, T={length}, cell={spec.label}, seed {seed}")
                        return train_one(config, task, length, spec, seed, out_dir)

                    result = resumable(out_dir / "result.json", resume, cell_run)
                    rows.append(result["row"])
                    if result["gradient_flow"] and seed == seeds[0]:
                        flows[f"{task}/{spec.label}"] = result["gradient_flow"]
                    if result.get("gate_profile") and seed == seeds[0]:
                        profiles[spec.label] = result["gate_profile"]
    table = results_table(rows)
    (run_dir / "results.md").write_text(table + "\n")
    plot_results(rows, run_dir / "accuracy_vs_length.png")
    if flows:
        plot_flows(flows, run_dir / "gradient_flow.png", config.probe_length)
    if profiles:
        plot_cue_profiles(profiles, run_dir / "gated_gates_at_cue.png", config.probe_length)
    record = write_record(run_dir / "metrics.json", {"results": rows, "gradient_flow": flows,
                                                     "gate_profiles": profiles}, config, seeds,
                          {"synthetic": "seqtasks.experiments.synthetic, seeded"})
    print(table)
    return record


def spread(values: list[float]) -> str:
    """mean, with ± std when there are several seeds."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def results_table(rows: list[dict]) -> str:
    """Markdown: one row per (task, cell), one column per T; adding shows solved share and MSE."""
    lengths = sorted({r["T"] for r in rows})
    lines = ["| task | cell | parameters | " + " | ".join(f"T={t}" for t in lengths) + " |",
             "|---|---|---|" + "---|" * len(lengths)]
    for task in dict.fromkeys(r["task"] for r in rows):
        for cell in dict.fromkeys(r["cell"] for r in rows if r["task"] == task):
            shown = []
            for t in lengths:
                devs = [r["dev"] for r in rows if r["task"] == task and r["cell"] == cell and r["T"] == t]
                if not devs:
                    shown.append("")
                elif task == "adding":
                    mse = statistics.mean(d["mse"] for d in devs)
                    shown.append(f"{spread([d['accuracy'] for d in devs])} (MSE {mse:.3f})")
                elif task == "gated":
                    shown.append(f"key {spread([d['key'] for d in devs])}, steps {spread([d['per_step'] for d in devs])}")
                else:
                    shown.append(spread([d["accuracy"] for d in devs]))
            params = next(r["parameters"] for r in rows if r["task"] == task and r["cell"] == cell)
            lines.append(f"| {task} | {cell} | {params:,} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


PANELS = {  # task -> (dev metric, y label) per panel
    "adding": [("accuracy", "dev share within 0.04 of the sum")],
    "recall": [("accuracy", "dev accuracy")],
    "gated": [("key", "dev key accuracy at the cue"), ("per_step", "dev per-step accuracy off the cue")],
}


def plot_results(rows: list[dict], path: Path) -> None:
    """Dev score against T per cell: the mean over seeds, and each seed as a dot."""
    plt = pyplot()
    panels = [(task, *panel) for task in dict.fromkeys(r["task"] for r in rows) for panel in PANELS[task]]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for axis, (task, metric, ylabel) in zip(axes[0], panels):
        for cell in dict.fromkeys(r["cell"] for r in rows if r["task"] == task):
            by_t: dict[int, list[float]] = {}
            for r in rows:
                if r["task"] == task and r["cell"] == cell:
                    by_t.setdefault(r["T"], []).append(r["dev"][metric])
            ts = sorted(by_t)
            line, = axis.plot(ts, [statistics.mean(by_t[t]) for t in ts], marker="o", label=cell)
            if any(len(v) > 1 for v in by_t.values()):  # each seed as a dot: outcomes can be all-or-nothing
                axis.scatter([t for t in ts for _ in by_t[t]], [v for t in ts for v in by_t[t]], s=12,
                             color=line.get_color(), alpha=0.5)
        if task in ("recall", "gated"):
            axis.axhline(1 / len(TASKS[task].labels), color="grey", linestyle=":", label="chance")
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



def plot_cue_profiles(profiles: dict[str, dict], path: Path, length: int) -> None:
    """The gated task: each gated cell's output gate around the cue, over all units and over the
    units that open most at the cue."""
    plt = pyplot()
    cells = [cell for cell, profile in profiles.items() if "o" in profile]
    if not cells:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), squeeze=False)
    for axis, which, title in zip(axes[0], ("all", "opening"), ("all units", "the 1/8 of units opening most")):
        for cell in cells:
            axis.plot(profiles[cell]["offsets"], profiles[cell]["o"][which], marker=".", label=cell)
        axis.axvline(0, color="grey", linestyle=":")
        axis.set(title=f"mean o_t, {title}", xlabel="steps from the cue", ylabel="output gate", ylim=(0, 1))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(f"gated task, T={length}: the output gate around the cue (first seed)")
    fig.tight_layout()
    save_figure(fig, path)
