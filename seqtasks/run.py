"""A run folder: what was trained, on what, and how it scored, so anyone can reproduce it.

    config.json  vocab.json  labels.json     inputs of the run
    best.safetensors                         best weights on dev
    last.safetensors  trainer_state.json     for --resume
    log.jsonl  curve.png                     per-epoch log and training curve
    metrics.json                             results + config, seed, data checksums, versions
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from seqtasks.checkpoint import CheckpointError, load_weights, write_json
from seqtasks.config import RunConfig, load_config, to_dict
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.model import SequenceModel, build_model
from seqtasks.plots import pyplot, save_figure

PACKAGES = ("seqtasks", "torch", "datasets", "scikit-learn", "numpy", "safetensors", "seqeval", "conllu")


@dataclass
class LoadedRun:
    run_dir: Path
    config: RunConfig
    vocab: Vocab
    labels: LabelSet
    model: SequenceModel


def save_run_inputs(run_dir: Path, config: RunConfig, vocab: Vocab, labels: LabelSet) -> None:
    write_json(run_dir / "config.json", to_dict(config))
    vocab.save(run_dir / "vocab.json")
    labels.save(run_dir / "labels.json")


def load_run(run_dir: str | Path, map_location: str = "cpu") -> LoadedRun:
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise CheckpointError(f"{run_dir}: not a run folder (no config.json)")
    config = load_config(run_dir / "config.json")
    if not (run_dir / "best.safetensors").is_file():
        folds = sorted(p.name for p in run_dir.glob("fold-*") if (p / "best.safetensors").is_file())
        hint = f"; it is a cross-validated run, pick a fold: {run_dir / folds[0]}" if folds else ""
        raise CheckpointError(f"{run_dir}: no trained weights (best.safetensors){hint}")
    vocab, labels = Vocab.load(run_dir / "vocab.json"), LabelSet.load(run_dir / "labels.json")
    model = build_model(config, len(vocab), labels.labels)
    load_weights(model, run_dir / "best.safetensors", device=map_location)
    model.to(map_location).eval()
    model.encoder.vocab = vocab
    return LoadedRun(run_dir, config, vocab, labels, model)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def provenance(config: RunConfig, data_files: dict[str, dict]) -> dict:
    return {
        "config": to_dict(config),
        "seed": config.train.seed,
        "data": data_files,
        "versions": library_versions(),
        "machine": f"{platform.machine()} {platform.system()}",
    }


def write_metrics(run_dir: Path, results: dict, config: RunConfig, data_files: dict[str, dict]) -> dict:
    record = {"recipe": config.recipe, "dataset": config.data.dataset, **results, **provenance(config, data_files)}
    write_json(run_dir / "metrics.json", record)
    return record


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
