"""A run folder: what was trained, on what, and how it scored, so anyone can reproduce it.

    config.json  vocab.json  labels.json     inputs of the run
    best.safetensors                         best weights on dev
    last.safetensors  trainer_state.json     for --resume
    log.jsonl  curve.png                     per-epoch log and training curve
    metrics.json                             results + config, seed, data checksums, versions
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from seqtasks.core.checkpoint import load_state, load_tensors, load_weights, write_json
from seqtasks.core.config import RunConfig, from_dict, to_dict
from seqtasks.core.errors import CheckpointError, ConfigError
from seqtasks.core.plots import pyplot, save_figure
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.tasks import Task, get_task, legacy_task
from seqtasks.tasks.model import SequenceModel


@dataclass
class LoadedRun:
    run_dir: Path
    config: RunConfig
    vocab: Vocab
    labels: LabelSet
    model: SequenceModel

    @property
    def task(self) -> Task:
        return get_task(self.config.task)


def save_run_inputs(run_dir: Path, config: RunConfig, vocab: Vocab, labels: LabelSet) -> None:
    write_json(run_dir / "config.json", to_dict(config))
    vocab.save(run_dir / "vocab.json")
    labels.save(run_dir / "labels.json")


def load_run_config(run_dir: Path, labels: LabelSet) -> RunConfig:
    """config.json; one written before the task layer (no `task`) gets its task from its head."""
    path = run_dir / "config.json"
    saved = json.loads(path.read_text())
    if "task" not in saved:
        saved["task"], saved["head"]["name"] = legacy_task(saved["head"]["name"], labels.labels)
    return from_dict(RunConfig, saved, where=str(path))


def task_names(run_dir: Path) -> list[str]:
    """A multi-task run's tasks (seqtasks/engine/multitask.py), sorted; [] for a single-task run."""
    saved = json.loads((run_dir / "config.json").read_text())
    if "tasks" not in saved or not (run_dir / "tasks").is_dir():
        return []
    return sorted(p.name for p in (run_dir / "tasks").iterdir() if (p / "config.json").is_file())


def load_run(run_dir: str | Path, map_location: str = "cpu", task: str = "") -> LoadedRun:
    """A run's best model; of a multi-task run, the named task's (the shared encoder and its head)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise CheckpointError(f"{run_dir}: not a run folder (no config.json)")
    names = task_names(run_dir)
    if names or task:
        return load_task(run_dir, names, task, map_location)
    if not (run_dir / "best.safetensors").is_file():
        folds = sorted(p.name for p in run_dir.glob("fold-*") if (p / "best.safetensors").is_file())
        hint = f"; it is a cross-validated run, pick a fold: {run_dir / folds[0]}" if folds else ""
        raise CheckpointError(f"{run_dir}: no trained weights (best.safetensors){hint}")
    vocab, labels = Vocab.load(run_dir / "vocab.json"), LabelSet.load(run_dir / "labels.json")
    config = load_run_config(run_dir, labels)
    model = get_task(config.task).build_model(config, len(vocab), labels.labels)
    load_weights(model, run_dir / "best.safetensors", device=map_location)
    model.to(map_location).eval()
    model.encoder.vocab = vocab
    return LoadedRun(run_dir, config, vocab, labels, model)


def load_task(run_dir: Path, names: list[str], task: str, map_location: str) -> LoadedRun:
    if not names:
        raise ConfigError(f"{run_dir} is a single-task run; --task is for a multi-task run")
    if task not in names:
        said = f"has no task {task!r}" if task else "is a multi-task run: name one of its tasks with --task"
        raise ConfigError(f"{run_dir} {said}; its tasks: {', '.join(names)}")
    folder = run_dir / "tasks" / task
    vocab, labels = Vocab.load(folder / "vocab.json"), LabelSet.load(folder / "labels.json")
    config = load_run_config(folder, labels)
    model = get_task(config.task).build_model(config, len(vocab), labels.labels)
    path = run_dir / "best.safetensors"
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: no trained weights (best.safetensors)")
    tensors = load_tensors(path, "model", map_location)
    head = f"heads.{task}."
    mine = {name: t for name, t in tensors.items() if name.startswith("encoder.")}
    mine.update({"head." + name[len(head):]: t for name, t in tensors.items() if name.startswith(head)})
    load_state(model, mine, path)
    model.to(map_location).eval()
    model.encoder.vocab = vocab
    return LoadedRun(folder, config, vocab, labels, model)


def plot_curve(history: list[dict], metric: str, path: Path) -> None:
    """Training loss and the dev metric per epoch, side by side."""
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [row["train_loss"] for row in history], marker="o")
    left.set(xlabel="epoch", ylabel="train loss", title="training loss")
    right.plot(epochs, [row["dev"][metric] for row in history], marker="o", color="tab:green")
    right.set(xlabel="epoch", ylabel=f"dev {metric}", title=f"dev {metric}")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
