"""The steps a recipe runs, in the order a person would explain them:
load data -> build vocabulary -> build model -> train -> evaluate the best weights -> save.

`run` trains on a dataset's train split and selects on dev (carving a seeded dev split
from train when the dataset has none); `cross_validate` repeats that inside k folds.
Every decision that depends on the kind of task is the task's (seqtasks/tasks).
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import Dataset

from seqtasks.core.checkpoint import load_weights, write_json
from seqtasks.core.config import RunConfig, load_config, to_dict
from seqtasks.core.errors import CheckpointError, ConfigError, DataFormatError
from seqtasks.data.arrow_tokens import count_tokens, token_lists
from seqtasks.data.readers import read_file
from seqtasks.data.resolve import dataset_source, file_sha256, resolve_split
from seqtasks.data.splits import carve_dev, kfold
from seqtasks.data.tagging import convert_scheme
from seqtasks.data.user_files import Gold, parse_range, read_user_file
from seqtasks.data.vectors import init_embedding, load_vectors
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.engine.distributed import Runtime, check_world
from seqtasks.engine.distributed import runtime as make_runtime
from seqtasks.engine.provenance import write_record
from seqtasks.engine.run import plot_curve, save_run_inputs
from seqtasks.engine.sweep import resumable
from seqtasks.engine.training import Scorer, TrainerState, train
from seqtasks.model.encoder import LSTMEncoder
from seqtasks.tasks import Task, get_task
from seqtasks.tasks.model import SequenceModel


@dataclass
class Part:
    """A dataset part with where it came from, for error messages and the run's provenance."""

    rows: Dataset
    source: str
    record: dict
    tokenizer: str = "whitespace"  # how raw text is split at predict time: "whitespace" or "words"


def read_rows(config: RunConfig, path: Path | str) -> tuple[Dataset, str]:
    """(rows, tokenizer) of a file: a built-in dataset's own format, or (data.dataset "") a user's
    file with the columns data.text/data.label name; tags converted to the run's scheme."""
    data, task = config.data, get_task(config.task)
    if data.dataset:
        rows = read_file(dataset_source(data.dataset).reader, path, tag_column=data.tag_column)
        tokenizer = "words" if task.pair else "whitespace"
    else:
        rows, tokenizer = read_user_file(str(path), data, task.pair, Gold(task.gold, parse_range(data.range)))
    return convert_scheme(rows, data.tag_scheme), tokenizer


def read_split(config: RunConfig, split: str) -> Part:
    """A built-in dataset's split by name, or (data.dataset "") the user's file, folder or Hub id."""
    if config.data.dataset:
        resolved = resolve_split(config.data.dataset, split)
        path, sha256, origin = resolved.path, resolved.sha256, resolved.origin
    else:
        if not split:
            raise ConfigError("data.train: name your training file, e.g. --set data.train=tickets.csv "
                              "(or --set data.dataset=NAME for a built-in dataset)")
        path = split
        sha256 = file_sha256(Path(split)) if Path(split).is_file() else ""
        origin = "file" if Path(split).exists() else "hub"
    rows, tokenizer = read_rows(config, path)
    record = {"split": split, "path": str(path), "sha256": sha256, "origin": origin, "examples": len(rows)}
    return Part(rows, str(path), record, tokenizer)


def carve(part: Part, fraction: float, seed: int, task: Task) -> tuple[Part, Part]:
    try:
        train_rows, dev_rows = carve_dev(part.rows, fraction, seed, task.strata(part.rows))
    except ValueError as error:  # scikit-learn: too few rows, or a class with a single row
        raise DataFormatError(part.source, 1, f"cannot carve a {fraction:.0%} dev split from {len(part.rows)} rows "
                                              f"({error}); give a dev file with data.dev=FILE") from error
    lines = list(dev_rows["line"])
    dev_record = {"carved_from": part.record["split"], "fraction": fraction, "seed": seed, "examples": len(lines),
                  "lines": lines}
    return (Part(train_rows, part.source, {**part.record, "examples": len(train_rows)}, part.tokenizer),
            Part(dev_rows, part.source, dev_record, part.tokenizer))


def build_vocab(task: Task, rows: Dataset, config: RunConfig, tokenizer: str = "") -> Vocab:
    """From every sentence of the training rows, then the vectors' most frequent words
    (encoder.vectors_vocab). Pair files hold raw text, so the vocabulary remembers to split raw
    text into words the same way."""
    data, encoder = config.data, config.encoder
    tokenizer = tokenizer or ("words" if task.pair else "whitespace")
    counts = count_tokens([token_lists(rows, column) for column in task.text_columns], data.lowercase)
    vocab = Vocab.from_counts(counts, min_freq=data.min_freq, lowercase=data.lowercase, tokenizer=tokenizer)
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


ARCHITECTURE = ("embedding_dim", "hidden_size", "num_layers", "bidirectional", "cell", "chars", "char_features")


def transfer_encoder(config: RunConfig, vocab: Vocab) -> tuple[LSTMEncoder, Vocab]:
    """The trained encoder of config.encoder.init, and its vocabulary extended with this run's new words
    (known words keep their ids, so their trained rows). Its shape becomes this run's: the weights only
    fit an encoder of the same shape."""
    source = LSTMEncoder.from_pretrained(config.encoder.init)
    source_config = load_config(Path(config.encoder.init) / "config.json").encoder
    changed = [f"{key}={getattr(source_config, key)}" for key in ARCHITECTURE
               if getattr(config.encoder, key) != getattr(source_config, key)]
    for key in ARCHITECTURE:
        setattr(config.encoder, key, getattr(source_config, key))
    if changed:
        print(f"encoder.init: the encoder's shape comes from {config.encoder.init}: {', '.join(changed)}")
    return source, source.vocab.extend(vocab.tokens[2:])


def load_transferred(model: SequenceModel, source: LSTMEncoder) -> dict:
    """Every encoder weight from the source; embedding rows for the source's words, the rest as initialised."""
    state = source.state_dict()
    known = state["embedding.weight"].shape[0]
    with torch.no_grad():
        model.encoder.embedding.weight[:known] = state.pop("embedding.weight")
    missing = model.encoder.load_state_dict(state, strict=False).missing_keys
    if missing != ["embedding.weight"]:
        raise CheckpointError(f"encoder.init: the source encoder lacks {missing}")
    return {"known_words": known, "new_words": model.encoder.embedding.weight.shape[0] - known}


def train_best(model: SequenceModel, train_split, dev_split, config: RunConfig, run_dir: Path, score: Scorer,
               metric: str, resume: bool = False, runtime: Runtime | None = None) -> tuple[TrainerState, dict]:
    """Train, reload the best epoch's weights, and score them on dev: (trainer state, dev metrics)."""
    runtime = runtime or Runtime(torch.device("cpu"))
    state = train(model, train_split, dev_split, config.train, run_dir, score, metric, resume=resume,
                  runtime=runtime, freeze_encoder_epochs=config.encoder.freeze_epochs)
    load_weights(model, run_dir / "best.safetensors", device=str(runtime.device))
    if runtime.main:
        plot_curve(state.history, metric, run_dir / "curve.png")
    return state, runtime.broadcast(score(model, dev_split) if runtime.main else None)


def fit(config: RunConfig, run_dir: Path, train_part: Part, dev_part: Part, heldout: Part | None = None,
        resume: bool = False) -> dict:
    """Train one model, select it on dev, score it (and a held-out part), write metrics.json."""
    task = get_task(config.task)
    task.head_class(config.head)  # a wrong head or head option fails before anything is written
    runtime = make_runtime(config.train.device, config.train.amp)
    check_world(runtime.world, config.train.batch_size)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)
    data = config.data
    vocab = build_vocab(task, train_part.rows, config, train_part.tokenizer)
    source = None
    if config.encoder.init:
        source, vocab = transfer_encoder(config, vocab)
    labels = LabelSet.build(task.label_values(train_part.rows))

    def encode(part: Part):
        return task.encode(part.rows, vocab, labels, part.source, data.max_tokens, config.encoder.chars)

    train_split, dev_split = encode(train_part), encode(dev_part)  # checks labels and lengths
    summary = data_summary(task, train_part, train_split, dev_split)
    if runtime.main:  # nothing is written before the data has been read and checked
        run_dir.mkdir(parents=True, exist_ok=True)
        save_run_inputs(run_dir, config, vocab, labels)
    model = task.build_model(config, len(vocab), labels.labels)
    vectors = attach_vectors(model, vocab, config)
    transferred = None if source is None else {"run": config.encoder.init, **load_transferred(model, source)}
    model.to(runtime.device)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{config.recipe}: {len(train_split)} train / {len(dev_split)} dev examples, vocabulary {len(vocab)}, "
          f"{len(labels)} labels, {parameters:,} parameters, on {runtime_text(runtime)} -> {run_dir}")

    def score(model, split):
        return task.score(model, split, labels.labels)

    metric = task.selection_metric(labels.labels)
    state, dev = train_best(model, train_split, dev_split, config, run_dir, score, metric, resume, runtime)
    results = {"task": config.task, "dataset": data.dataset, "data_summary": summary, "dev": dev,
               "selected_on": f"dev {metric}", "best_epoch": state.best_epoch, "epochs_run": state.epoch,
               "train_seconds": round(sum(r["train_seconds"] for r in state.history), 1),
               "parameters": parameters, "vectors": vectors, "encoder_init": transferred,
               "device": runtime_text(runtime)}
    data_files = {"train": train_part.record, "dev": dev_part.record}
    if heldout is not None:
        results["heldout"] = runtime.broadcast(score(model, encode(heldout)) if runtime.main else None)
        data_files["heldout"] = heldout.record
    if not runtime.main:
        return results
    return write_record(run_dir / "metrics.json", results, config, config.train.seed, data_files)


def runtime_text(runtime: Runtime) -> str:
    """e.g. "cpu", "cuda:0 (NVIDIA H100 80GB HBM3), bf16", "cpu x 2 processes (gloo)"."""
    device = str(runtime.device)
    if runtime.device.type == "cuda":
        device += f" ({torch.cuda.get_device_name(runtime.device)})"
    if runtime.amp:
        device += f", {runtime.amp}"
    if runtime.world > 1:
        device += f" x {runtime.world} processes ({torch.distributed.get_backend()})"
    return device


def data_summary(task: Task, train_part: Part, train_split, dev_split) -> dict:
    """What a user should see before trusting a run: rows read, label counts, how much of dev the
    vocabulary does not know, and the longest sequence. Printed, and kept in metrics.json."""
    summary = {"train_rows": len(train_split), "dev_rows": len(dev_split),
               "label_counts": dict(Counter(task.label_values(train_part.rows)).most_common()),
               "dev_unknown_token_share": round(float((dev_split.flat_ids == 1).float().mean()), 4),
               "longest_sequence": int(max(train_split.lengths.max(), dev_split.lengths.max()))}
    counts = ", ".join(f"{k} {v}" for k, v in list(summary["label_counts"].items())[:8])
    print(f"data: {summary['train_rows']} train / {summary['dev_rows']} dev rows; labels: {counts or 'scores'}; "
          f"{summary['dev_unknown_token_share']:.1%} of dev tokens unknown to the vocabulary; "
          f"longest sequence {summary['longest_sequence']} tokens")
    return summary


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
    if make_runtime(config.train.device, config.train.amp).main:  # first, so an interrupted run can be resumed
        write_json(run_dir / "config.json", to_dict(config))
    per_fold = []
    for k, (train_rows, test_rows) in enumerate(kfold(full.rows, config.data.folds, config.train.seed,
                                                      task.strata(full.rows)), start=1):
        fold_dir = run_dir / f"fold-{k:02d}"

        def fold(k=k, train_rows=train_rows, test_rows=test_rows, fold_dir=fold_dir) -> dict:
            print(f"fold {k}/{config.data.folds}")
            rest = Part(full.rows.select(train_rows), full.source, {**full.record, "fold": k, "role": "train+dev"},
                        full.tokenizer)
            heldout = Part(full.rows.select(test_rows), full.source, {**full.record, "fold": k, "role": "heldout",
                                                                      "examples": len(test_rows)}, full.tokenizer)
            train_part, dev_part = carve(rest, config.data.dev_fraction, config.train.seed, task)
            return fit(config, fold_dir, train_part, dev_part, heldout, resume=resume)

        per_fold.append(resumable(fold_dir / "metrics.json", resume, fold)["heldout"])
    summary = {"folds": config.data.folds, "per_fold": per_fold}
    for key in per_fold[0]:
        if isinstance(per_fold[0][key], float):
            values = [fold[key] for fold in per_fold]
            summary[f"{key}_mean"] = statistics.mean(values)
            summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    results = {"task": config.task, "dataset": config.data.dataset, "cv": summary}
    if not make_runtime(config.train.device, config.train.amp).main:
        return results
    return write_record(run_dir / "metrics.json", results, config, config.train.seed, {"all": full.record})
