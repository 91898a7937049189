"""The steps a recipe runs, in the order a person would explain them:
load data -> build vocabulary -> build model -> train -> evaluate the best weights -> save.

`run` trains on a dataset's train split and selects on dev (carving a seeded dev split
from train when the dataset has none); `cross_validate` repeats that inside k folds.
Every decision that depends on the kind of task is the task's (seqtasks/tasks).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import Dataset

from seqtasks.core.checkpoint import load_weights, write_json
from seqtasks.core.config import RunConfig, to_dict
from seqtasks.data.readers import read_file
from seqtasks.data.resolve import dataset_source, resolve_split
from seqtasks.data.splits import carve_dev, kfold
from seqtasks.data.tagging import convert_scheme
from seqtasks.data.vectors import init_embedding, load_vectors
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.engine.provenance import write_record
from seqtasks.engine.run import plot_curve, save_run_inputs
from seqtasks.engine.sweep import resumable
from seqtasks.engine.training import Scorer, TrainerState, train
from seqtasks.tasks import Task, get_task
from seqtasks.tasks.model import SequenceModel


@dataclass
class Part:
    """A dataset part with where it came from, for error messages and the run's provenance."""

    rows: Dataset
    source: str
    record: dict


def read_rows(config: RunConfig, path: Path | str) -> Dataset:
    """A file in the dataset's own format, with tags converted to the run's scheme."""
    data = config.data
    rows = read_file(dataset_source(data.dataset).reader, path, tag_column=data.tag_column)
    return convert_scheme(rows, data.tag_scheme)


def read_split(config: RunConfig, split: str) -> Part:
    resolved = resolve_split(config.data.dataset, split)
    rows = read_rows(config, resolved.path)
    record = {"split": split, "path": str(resolved.path), "sha256": resolved.sha256, "origin": resolved.origin,
              "examples": len(rows)}
    return Part(rows, str(resolved.path), record)


def carve(part: Part, fraction: float, seed: int, task: Task) -> tuple[Part, Part]:
    train_rows, dev_rows = carve_dev(part.rows, fraction, seed, task.strata(part.rows))
    lines = list(dev_rows["line"])
    dev_record = {"carved_from": part.record["split"], "fraction": fraction, "seed": seed, "examples": len(lines),
                  "lines": lines}
    return (Part(train_rows, part.source, {**part.record, "examples": len(train_rows)}),
            Part(dev_rows, part.source, dev_record))


def build_vocab(task: Task, rows: Dataset, config: RunConfig) -> Vocab:
    """From every sentence of the training rows, then the vectors' most frequent words
    (encoder.vectors_vocab). Pair files hold raw text, so the vocabulary remembers to split raw
    text into words the same way."""
    data, encoder = config.data, config.encoder
    tokenizer = "words" if task.pair else "whitespace"
    vocab = Vocab.build(task.sentences(rows), min_freq=data.min_freq, lowercase=data.lowercase, tokenizer=tokenizer)
    if encoder.vectors and encoder.vectors_vocab:
        vocab = vocab.extend(load_vectors(encoder.vectors).words[: encoder.vectors_vocab])
    return vocab


def attach_vectors(model: SequenceModel, vocab: Vocab, config: RunConfig) -> dict | None:
    """Initialise the embedding from pretrained vectors (optionally frozen); None without vectors."""
    if not config.encoder.vectors:
        return None
    record = init_embedding(model.encoder.embedding.weight, vocab, load_vectors(config.encoder.vectors),
                            seed=config.train.seed)
    model.encoder.embedding.weight.requires_grad_(not config.encoder.freeze_vectors)
    print(f"vectors {record['name']}: {record['coverage']:.1%} of the vocabulary covered")
    return record


def train_best(model: SequenceModel, train_split, dev_split, config: RunConfig, run_dir: Path, score: Scorer,
               metric: str, resume: bool = False, device: str = "cpu") -> tuple[TrainerState, dict]:
    """Train, reload the best epoch's weights, and score them on dev: (trainer state, dev metrics)."""
    state = train(model, train_split, dev_split, config.train, run_dir, score, metric, resume=resume, device=device)
    load_weights(model, run_dir / "best.safetensors", device=device)
    plot_curve(state.history, metric, run_dir / "curve.png")
    return state, score(model, dev_split)


def fit(config: RunConfig, run_dir: Path, train_part: Part, dev_part: Part, heldout: Part | None = None,
        resume: bool = False, device: str = "cpu") -> dict:
    """Train one model, select it on dev, score it (and a held-out part), write metrics.json."""
    task = get_task(config.task)
    task.head_class(config.head)  # a wrong head or head option fails before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)
    data = config.data
    vocab = build_vocab(task, train_part.rows, config)
    labels = LabelSet.build(task.label_values(train_part.rows))
    save_run_inputs(run_dir, config, vocab, labels)

    def encode(part: Part):
        return task.encode(part.rows, vocab, labels, part.source, data.max_tokens, config.encoder.chars)

    train_split, dev_split = encode(train_part), encode(dev_part)
    model = task.build_model(config, len(vocab), labels.labels)
    vectors = attach_vectors(model, vocab, config)
    model.to(device)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{config.recipe}: {len(train_split)} train / {len(dev_split)} dev examples, vocabulary {len(vocab)}, "
          f"{len(labels)} labels, {parameters:,} parameters -> {run_dir}")

    def score(model, split):
        return task.score(model, split, labels.labels)

    metric = task.selection_metric(labels.labels)
    state, dev = train_best(model, train_split, dev_split, config, run_dir, score, metric, resume, device)
    results = {"task": config.task, "dataset": data.dataset, "dev": dev, "selected_on": f"dev {metric}",
               "best_epoch": state.best_epoch, "epochs_run": state.epoch,
               "train_seconds": round(sum(r["train_seconds"] for r in state.history), 1),
               "parameters": parameters, "vectors": vectors}
    data_files = {"train": train_part.record, "dev": dev_part.record}
    if heldout is not None:
        results["heldout"] = score(model, encode(heldout))
        data_files["heldout"] = heldout.record
    return write_record(run_dir / "metrics.json", results, config, config.train.seed, data_files)


def run(config: RunConfig, run_dir: Path, resume: bool = False) -> dict:
    train_part = read_split(config, config.data.train)
    if config.data.dev:
        dev_part = read_split(config, config.data.dev)
    else:
        train_part, dev_part = carve(train_part, config.data.dev_fraction, config.train.seed, get_task(config.task))
    return fit(config, run_dir, train_part, dev_part, resume=resume)


def cross_validate(config: RunConfig, run_dir: Path, resume: bool = False) -> dict:
    """k-fold CV: each fold trains on k-1 folds (minus a carved dev split for early stopping)
    and is scored on its held-out fold; the run reports mean and std over folds."""
    task = get_task(config.task)
    full = read_split(config, config.data.train)
    write_json(run_dir / "config.json", to_dict(config))  # first, so an interrupted run can be resumed
    per_fold = []
    for k, (train_rows, test_rows) in enumerate(kfold(full.rows, config.data.folds, config.train.seed,
                                                      task.strata(full.rows)), start=1):
        fold_dir = run_dir / f"fold-{k:02d}"

        def fold(k=k, train_rows=train_rows, test_rows=test_rows, fold_dir=fold_dir) -> dict:
            print(f"fold {k}/{config.data.folds}")
            rest = Part(full.rows.select(train_rows), full.source, {**full.record, "fold": k, "role": "train+dev"})
            heldout = Part(full.rows.select(test_rows), full.source, {**full.record, "fold": k, "role": "heldout",
                                                                      "examples": len(test_rows)})
            train_part, dev_part = carve(rest, config.data.dev_fraction, config.train.seed, task)
            return fit(config, fold_dir, train_part, dev_part, heldout, resume=resume)

        per_fold.append(resumable(fold_dir / "metrics.json", resume, fold)["heldout"])
    summary = {"folds": config.data.folds, "per_fold": per_fold}
    for key in per_fold[0]:
        if isinstance(per_fold[0][key], float):
            values = [fold[key] for fold in per_fold]
            summary[f"{key}_mean"] = statistics.mean(values)
            summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return write_record(run_dir / "metrics.json", {"task": config.task, "dataset": config.data.dataset, "cv": summary},
                        config, config.train.seed, {"all": full.record})
