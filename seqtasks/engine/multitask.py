"""One encoder, a head per task, trained together (a MultiTaskConfig and its tasks, each a RunConfig).

Batches come from the tasks by a sampling rule (seqtasks/engine/mixture.py); each goes through the
shared encoder and its own task's head, and its loss is scaled by that task's weight. The best epoch
is the one with the best mean of the tasks' dev selection metrics (or one chosen task's). The run
folder holds the encoder once:

    config.json  vocab.json             the multi-task config; the vocabulary every task shares
    tasks/NAME/config.json ...          each task's config (its data and head), vocabulary view, labels
    best.safetensors                    encoder.* once, heads.NAME.* for every task
    last.safetensors  trainer_state.json  log.jsonl  curve.png  metrics.json  (per-task dev metrics)

`load_run(RUN, task=NAME)` (seqtasks/engine/run.py) gives one task's model: the shared encoder and its head.
"""
from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from heads import HeadOutput
from seqtasks.core.checkpoint import write_json
from seqtasks.core.config import MultiTaskConfig, RunConfig, to_dict
from seqtasks.core.errors import ConfigError
from seqtasks.data.arrow_tokens import count_tokens, token_lists
from seqtasks.data.batching import Batch
from seqtasks.data.vectors import load_vectors
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.engine.distributed import runtime as make_runtime
from seqtasks.engine.mixture import TaskMixture, sampling_probabilities
from seqtasks.engine.pipeline import Part, attach_vectors, carve, data_summary, read_split, runtime_text, train_best
from seqtasks.engine.provenance import write_record
from seqtasks.engine.run import save_run_inputs
from seqtasks.model.encoder import LSTMEncoder
from seqtasks.tasks import get_task
from seqtasks.tasks.model import SequenceModel


@dataclass
class Member:
    """One task of a multi-task run: its name (--task NAME), its config (its task, data and head; the
    encoder and training settings are the run's) and its loss weight."""

    name: str
    config: RunConfig
    weight: float = 1.0


class MultiTaskModel(nn.Module):
    """The shared encoder and a head per task; a batch goes through the head its `task` names."""

    def __init__(self, encoder: LSTMEncoder, members: dict[str, SequenceModel], weights: dict[str, float]) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict({name: model.head for name, model in members.items()})
        self.weights = weights
        self._members = members  # views sharing these modules (a plain dict: nothing registered twice)

    def forward(self, batch: Batch) -> HeadOutput:
        output = self.heads[batch.task](self.encoder(batch.token_ids, batch.lengths, batch.chars), batch)
        weight = self.weights[batch.task]
        if output.loss is None or weight == 1.0:
            return output
        return dataclasses.replace(output, loss=output.loss * weight)

    def member(self, name: str) -> SequenceModel:
        """One task's model: the shared encoder and that task's head (the same modules, not copies)."""
        return self._members[name]


def check_members(config: MultiTaskConfig, members: list[Member]) -> None:
    names = [m.name for m in members]
    if len(members) < 2:
        raise ConfigError(f"tasks={config.tasks!r}: a multi-task run needs at least two tasks")
    if len(set(names)) != len(names):
        raise ConfigError(f"tasks: each task needs a name of its own; got {names}")
    if config.select not in ("mean", *names):
        raise ConfigError(f"select={config.select!r}: expected mean or one of the tasks: {', '.join(names)}")
    for member in members:
        if member.config.data.folds:
            raise ConfigError(f"task {member.name}: a cross-validated recipe has no dev split to select on; "
                              f"give it one (data.dev) in a TOML file of its own")
        get_task(member.config.task).head_class(member.config.head)  # a wrong head fails before anything is written
    if config.encoder.init:
        raise ConfigError("encoder.init starts a single-task run from a trained encoder; a multi-task run starts fresh")
    sampling_probabilities([1] * len(members), config.sampling, config.temperature)  # a bad rule fails here


def read_parts(member: Member) -> tuple[Part, Part]:
    config = member.config
    train_part = read_split(config, config.data.train)
    if config.data.dev:
        return train_part, read_split(config, config.data.dev)
    return carve(train_part, config.data.dev_fraction, config.train.seed, get_task(config.task))


def shared_vocab(config: MultiTaskConfig, members: list[Member], parts: dict[str, tuple[Part, Part]]) -> Vocab:
    """Every task's training words (each counted with its own lowercasing), then the vectors' most
    frequent words (encoder.vectors_vocab): one embedding table for all."""
    counts: Counter = Counter()
    for member in members:
        task, rows = get_task(member.config.task), parts[member.name][0].rows
        counts.update(count_tokens([token_lists(rows, column) for column in task.text_columns],
                                   member.config.data.lowercase))
    lowercase = all(m.config.data.lowercase for m in members)
    vocab = Vocab.from_counts(counts, min(m.config.data.min_freq for m in members), lowercase=lowercase)
    if config.encoder.vectors and config.encoder.vectors_vocab:
        vocab = vocab.extend(load_vectors(config.encoder.vectors).words[: config.encoder.vectors_vocab])
    return vocab


def run(config: MultiTaskConfig, members: list[Member], run_dir: Path, resume: bool = False) -> dict:
    check_members(config, members)
    runtime = make_runtime(config.train.device, config.train.amp)
    if runtime.world > 1:
        raise ConfigError("a multi-task run trains in one process; run it without torchrun")
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)
    parts = {m.name: read_parts(m) for m in members}
    vocab = shared_vocab(config, members, parts)
    views, labels, splits, summaries = {}, {}, {}, {}
    for member in members:
        task, (train_part, dev_part), data = get_task(member.config.task), parts[member.name], member.config.data
        views[member.name] = Vocab(vocab.tokens, lowercase=data.lowercase, tokenizer=train_part.tokenizer)
        labels[member.name] = LabelSet.build(task.label_values(train_part.rows))
        splits[member.name] = [task.encode(part.rows, views[member.name], labels[member.name], part.source,
                                           data.max_tokens, config.encoder.chars) for part in (train_part, dev_part)]
        print(f"{member.name}: ", end="")
        summaries[member.name] = data_summary(task, train_part, *splits[member.name])
    run_dir.mkdir(parents=True, exist_ok=True)  # nothing is written before every task's data has been read
    write_json(run_dir / "config.json", to_dict(config))
    vocab.save(run_dir / "vocab.json")
    for member in members:
        save_run_inputs(run_dir / "tasks" / member.name, member.config, views[member.name], labels[member.name])

    encoder = LSTMEncoder.from_config(config.encoder, len(vocab))
    built = {}
    for member in members:
        built[member.name] = get_task(member.config.task).build_model(member.config, len(vocab),
                                                                      labels[member.name].labels)
        built[member.name].encoder = encoder
    model = MultiTaskModel(encoder, built, {m.name: m.weight for m in members})
    vectors = attach_vectors(model, vocab, members[0].config)
    model.to(runtime.device)
    mixture = TaskMixture([m.name for m in members], [splits[m.name][0] for m in members], config.sampling,
                          config.temperature)
    metrics = {m.name: get_task(m.config.task).selection_metric(labels[m.name].labels) for m in members}
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{config.recipe}: {', '.join(f'{m.name} {len(splits[m.name][0])}' for m in members)} train examples, "
          f"vocabulary {len(vocab)}, {parameters:,} parameters, on {runtime_text(runtime)} -> {run_dir}")

    def score(model: MultiTaskModel, _) -> dict:
        scores = {}
        for member in members:
            task, dev = get_task(member.config.task), splits[member.name][1]
            for key, value in task.score(model.member(member.name), dev, labels[member.name].labels).items():
                scores[f"{member.name}/{key}"] = value
        scores["mean"] = statistics.mean(scores[f"{name}/{metric}"] for name, metric in metrics.items())
        return scores

    selected = "mean" if config.select == "mean" else f"{config.select}/{metrics[config.select]}"
    state, dev = train_best(model, mixture, None, config, run_dir, score, selected, resume, runtime)
    probabilities = sampling_probabilities(mixture.sizes(config.train), config.sampling, config.temperature).tolist()
    results = {
        "tasks": {m.name: {"task": m.config.task, "recipe": m.config.recipe, "weight": m.weight,
                           "selected_on": f"dev {metrics[m.name]}", "data_summary": summaries[m.name],
                           "dev": {k.split("/", 1)[1]: v for k, v in dev.items() if k.startswith(m.name + "/")}}
                  for m in members},
        "dev": dev, "selected_on": f"dev {selected}", "sampling": config.sampling,
        "sampling_probabilities": dict(zip([m.name for m in members], probabilities)),
        "best_epoch": state.best_epoch, "epochs_run": state.epoch,
        "train_seconds": round(sum(r["train_seconds"] for r in state.history), 1), "parameters": parameters,
        "vectors": vectors, "device": runtime_text(runtime),
    }
    data_files = {f"{name}/{role}": part.record for name, pair in parts.items()
                  for role, part in zip(("train", "dev"), pair)}
    return write_record(run_dir / "metrics.json", results, config, config.train.seed, data_files)
