"""The steps a recipe runs, in the order a person would explain them:
load data -> build vocabulary -> build model -> train -> evaluate the best weights -> save.

`run` trains on a dataset's train split and selects on dev (carving a seeded dev split
from train when the dataset has none); `cross_validate` repeats that inside k folds.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import Dataset

from seqtasks.checkpoint import load_weights, write_json
from seqtasks.config import DataConfig, EncoderConfig, RunConfig, to_dict
from seqtasks.data.batching import encode_split
from seqtasks.data.readers import read_file
from seqtasks.data.resolve import dataset_source, resolve_split
from seqtasks.data.splits import carve_dev, kfold
from seqtasks.data.tagging import convert_scheme
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.evaluation import scorer_for
from seqtasks.model import build_model
from seqtasks.run import plot_curve, save_run_inputs, write_metrics
from seqtasks.training import train


@dataclass
class Part:
    """A dataset part with where it came from, for error messages and the run's provenance."""

    rows: Dataset
    source: str
    record: dict


def read_rows(data: DataConfig, path: Path | str) -> Dataset:
    """A file in the dataset's own format, with tags converted to the run's scheme."""
    rows = read_file(dataset_source(data.dataset).reader, path, tag_column=data.tag_column)
    return convert_scheme(rows, data.tag_scheme)


def label_values(rows: Dataset) -> list[str]:
    """Every gold label: one per row, or one per token for tagging data; none for similarity scores."""
    if "score" in rows.column_names:
        return []
    if "tags" in rows.column_names:
        return [tag for tags in rows["tags"] for tag in tags]
    return list(rows["label"])


def build_vocab(rows: Dataset, data: DataConfig, encoder: EncoderConfig | None = None) -> Vocab:
    """From every sentence of the training rows (both sides of pairs), then the vectors' most
    frequent words (encoder.vectors_vocab). Pairs come as raw text, so the vocabulary remembers to
    split raw text into words the same way."""
    sentences = list(rows["tokens"])
    tokenizer = "whitespace"
    if "tokens_b" in rows.column_names:
        sentences += list(rows["tokens_b"])
        tokenizer = "words"
    vocab = Vocab.build(sentences, min_freq=data.min_freq, lowercase=data.lowercase, tokenizer=tokenizer)
    if encoder and encoder.vectors and encoder.vectors_vocab:
        from seqtasks.vectors import load_vectors

        vocab = vocab.extend(load_vectors(encoder.vectors).words[: encoder.vectors_vocab])
    return vocab


def read_split(data: DataConfig, split: str) -> Part:
    resolved = resolve_split(data.dataset, split)
    rows = read_rows(data, resolved.path)
    record = {"split": split, "path": str(resolved.path), "sha256": resolved.sha256, "origin": resolved.origin,
              "examples": len(rows)}
    return Part(rows, str(resolved.path), record)


def carve(part: Part, fraction: float, seed: int) -> tuple[Part, Part]:
    train_rows, dev_rows = carve_dev(part.rows, fraction, seed)
    lines = list(dev_rows["line"])
    dev_record = {"carved_from": part.record["split"], "fraction": fraction, "seed": seed, "examples": len(lines),
                  "lines": lines}
    return (Part(train_rows, part.source, {**part.record, "examples": len(train_rows)}),
            Part(dev_rows, part.source, dev_record))


def attach_vectors(model, vocab: Vocab, config: RunConfig) -> dict | None:
    """Initialise the embedding from pretrained vectors (optionally frozen); None without vectors."""
    if not config.encoder.vectors:
        return None
    from seqtasks.vectors import init_embedding, load_vectors

    record = init_embedding(model.encoder.embedding.weight, vocab, load_vectors(config.encoder.vectors),
                            seed=config.train.seed)
    model.encoder.embedding.weight.requires_grad_(not config.encoder.freeze_vectors)
    print(f"vectors {record['name']}: {record['coverage']:.1%} of the vocabulary covered")
    return record


def fit(config: RunConfig, run_dir: Path, train_part: Part, dev_part: Part, heldout: Part | None = None,
        resume: bool = False) -> dict:
    """Train one model, select it on dev, score it (and a held-out part), write metrics.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)
    data = config.data
    vocab = build_vocab(train_part.rows, data, config.encoder)
    labels = LabelSet.build(label_values(train_part.rows))
    save_run_inputs(run_dir, config, vocab, labels)
    encode = lambda part: encode_split(  # noqa: E731
        part.rows, vocab, labels, part.source, data.max_tokens, config.encoder.chars
    )
    train_split, dev_split = encode(train_part), encode(dev_part)

    model = build_model(config, len(vocab), labels.labels)
    vectors = attach_vectors(model, vocab, config)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{config.recipe}: {len(train_split)} train / {len(dev_split)} dev examples, vocabulary {len(vocab)}, "
          f"{len(labels)} labels, {parameters:,} parameters -> {run_dir}")
    score, metric = scorer_for(config.head.name, labels.labels)
    state = train(model, train_split, dev_split, config.train, run_dir, score, metric, resume=resume)

    load_weights(model, run_dir / "best.safetensors")
    results = {"dev": score(model, dev_split), "selected_on": f"dev {metric}", "best_epoch": state.best_epoch,
               "epochs_run": state.epoch, "train_seconds": round(sum(r["train_seconds"] for r in state.history), 1),
               "parameters": parameters, "vectors": vectors}
    if heldout is not None:
        results["heldout"] = score(model, encode(heldout))
    plot_curve(state.history, metric, run_dir / "curve.png")
    data_files = {"train": train_part.record, "dev": dev_part.record}
    if heldout is not None:
        data_files["heldout"] = heldout.record
    return write_metrics(run_dir, results, config, data_files)


def run(config: RunConfig, run_dir: Path, resume: bool = False) -> dict:
    train_part = read_split(config.data, config.data.train)
    if config.data.dev:
        dev_part = read_split(config.data, config.data.dev)
    else:
        train_part, dev_part = carve(train_part, config.data.dev_fraction, config.train.seed)
    return fit(config, run_dir, train_part, dev_part, resume=resume)


def cross_validate(config: RunConfig, run_dir: Path, resume: bool = False) -> dict:
    """k-fold CV: each fold trains on k-1 folds (minus a carved dev split for early stopping)
    and is scored on its held-out fold; the run reports mean and std over folds."""
    full = read_split(config.data, config.data.train)
    write_json(run_dir / "config.json", to_dict(config))  # first, so an interrupted run can be resumed
    per_fold = []
    for k, (train_rows, test_rows) in enumerate(kfold(full.rows, config.data.folds, config.train.seed), start=1):
        fold_dir = run_dir / f"fold-{k:02d}"
        if resume and (fold_dir / "metrics.json").is_file():
            per_fold.append(json.loads((fold_dir / "metrics.json").read_text())["heldout"])
            continue
        print(f"fold {k}/{config.data.folds}")
        rest = Part(full.rows.select(train_rows), full.source, {**full.record, "fold": k, "role": "train+dev"})
        heldout = Part(full.rows.select(test_rows), full.source, {**full.record, "fold": k, "role": "heldout",
                                                                  "examples": len(test_rows)})
        train_part, dev_part = carve(rest, config.data.dev_fraction, config.train.seed)
        per_fold.append(fit(config, fold_dir, train_part, dev_part, heldout, resume=resume)["heldout"])
    summary = {"folds": config.data.folds, "per_fold": per_fold}
    for key in ("accuracy", "macro_f1"):
        values = [fold[key] for fold in per_fold]
        summary[f"{key}_mean"] = statistics.mean(values)
        summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return write_metrics(run_dir, {"cv": summary}, config, {"all": full.record})
