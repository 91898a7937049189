"""The steps a recipe runs, in the order a person would explain them: prepare (read data -> build the
vocabulary -> labels -> encode -> build the model: seqtasks/engine/prepare.py) -> write the run's
inputs -> train -> evaluate the best weights -> save.

One path for one task or many: a single-task run is a run of one member (`run`), a multi-task run
one of several (seqtasks/engine/multitask.py), a cross-validated run one per fold (`cross_validate`).
Every decision that depends on the kind of task is the task's (seqtasks/tasks).
"""
from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path

import torch

from seqtasks.core.checkpoint import load_weights, write_json
from seqtasks.core.config import EncoderConfig, MultiTaskConfig, RunConfig, TrainConfig, check_values, to_dict
from seqtasks.core.errors import RunFolderError
from seqtasks.data.splits import kfold
from seqtasks.engine.distributed import Runtime, check_world
from seqtasks.engine.distributed import runtime as make_runtime
from seqtasks.engine.lm_finetune import lm_finetuned
from seqtasks.engine.loggers import logger_names, make_loggers
from seqtasks.engine.mixture import TaskMixture, sampling_probabilities
from seqtasks.engine.prepare import Member, Part, Prepared, carve, prepare, read_parts, read_split
from seqtasks.engine.provenance import write_record
from seqtasks.engine.run import RunFolder, plot_curve, read_json
from seqtasks.engine.sweep import resumable
from seqtasks.engine.training import TrainerState, train
from seqtasks.tasks import get_task


def run(config: RunConfig, run_dir: Path, resume: bool = False) -> dict:
    """Train one task on its train split and select on dev (carved from train when there is none);
    with data.folds, cross-validate instead."""
    if config.data.folds:
        return cross_validate(config, run_dir, resume)
    member = Member("", config)
    return fit(prepare_run([member], config.encoder, config.train), config, RunFolder(run_dir), resume)


def prepare_run(members: list[Member], encoder: EncoderConfig, train: TrainConfig,
                parts: list[tuple[Part, Part]] | None = None, heldout: Part | None = None) -> Prepared:
    """`prepare`; with encoder.lm_finetune_epochs, everything is checked and read first, then encoder.init
    is fine-tuned as a language model on this run's text (cached) and the run is prepared from that."""
    prepared = prepare(members, encoder, train, parts, heldout)
    if not encoder.lm_finetune_epochs:
        return prepared
    tuned = lm_finetuned(encoder, train, prepared, fit)
    parts = [(p.train_part, p.dev_part) for p in prepared.members]
    again = prepare(members, replace(encoder, init=str(tuned), lm_finetune_epochs=0), train, parts, heldout)
    again.transferred["lm_finetuned_from"] = encoder.init
    return again


def start(config: RunConfig | MultiTaskConfig) -> Runtime:
    """Threads, the device and the process group, checked before any data is read."""
    check_values(config)
    logger_names(config.train.log)
    runtime = make_runtime(config.train.device, config.train.amp)
    check_world(runtime.world, config.train.batch_size)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    return runtime


def fit(prepared: Prepared, config: RunConfig | MultiTaskConfig, folder: RunFolder, resume: bool = False,
        runtime: Runtime | None = None) -> dict:
    """Write the prepared run's inputs, train it, select it on dev, score it (and a held-out part), and
    write metrics.json. Nothing before this has written a byte."""
    runtime = runtime or start(config)
    if resume:
        check_same_data(folder, prepared.data_files)
    elif runtime.main:
        write_inputs(folder, prepared, config)
    model = prepared.model.to(runtime.device)
    members = prepared.members
    parameters = sum(p.numel() for p in model.parameters())
    sizes = (f"{len(members[0].train)} train / {len(members[0].dev)} dev examples" if prepared.single
             else ", ".join(f"{p.member.name} {len(p.train)}" for p in members) + " train examples")
    labels = f", {len(members[0].labels)} labels" if prepared.single else ""
    print(f"{config.recipe}: {sizes}, vocabulary {len(prepared.vocab)}{labels}, {parameters:,} parameters, "
          f"on {runtime_text(runtime)} -> {folder.path}")

    if prepared.single:
        only = members[0]

        def score(model) -> dict:
            return only.task.score(model, only.dev, only.labels.labels)

        metric, batches = only.metric, only.train
    else:
        multi = config

        def score(model) -> dict:
            scores = {}
            for p in members:
                for key, value in p.task.score(model.member(p.member.name), p.dev, p.labels.labels).items():
                    scores[f"{p.member.name}/{key}"] = value
            scores["mean"] = statistics.mean(scores[f"{p.member.name}/{p.metric}"] for p in members)
            return scores

        metric = "mean" if multi.select == "mean" else f"{multi.select}/{members_by_name(members)[multi.select].metric}"
        batches = TaskMixture([p.member.name for p in members], [p.train for p in members], multi.sampling,
                              multi.temperature)
    freeze = members[0].member.config.encoder.freeze_epochs
    minimize = prepared.single and members[0].task.lower_is_better
    state = train(model, batches, config.train, folder, score, metric, resume=resume, runtime=runtime,
                  freeze_encoder_epochs=freeze, loggers=make_loggers(config.train.log, folder, metric, minimize), minimize=minimize)
    load_weights(model, folder.best, device=str(runtime.device))
    if runtime.main:
        plot_curve(state.history, metric, folder.curve)
    dev = runtime.broadcast(score(model) if runtime.main else None)
    results = results_record(prepared, config, state, dev, metric, runtime, parameters)
    if prepared.single and members[0].heldout is not None:
        only = members[0]
        results["heldout"] = runtime.broadcast(
            only.task.score(model, only.heldout, only.labels.labels) if runtime.main else None)
    if not runtime.main:
        return results
    return write_record(folder.metrics, results, config, config.train.seed, prepared.data_files)


def members_by_name(members: list) -> dict:
    return {p.member.name: p for p in members}


def write_inputs(folder: RunFolder, prepared: Prepared, config: RunConfig | MultiTaskConfig) -> None:
    """config.json, vocab.json, labels.json (a multi-task run: each task's in tasks/NAME/) and the data
    checksums that --resume compares against."""
    if prepared.single:
        only = prepared.members[0]
        folder.write_inputs(only.member.config, only.vocab, only.labels)
    else:
        write_json(folder.config, to_dict(config))
        prepared.vocab.save(folder.vocab)
        for p in prepared.members:
            folder.task(p.member.name).write_inputs(p.member.config, p.vocab, p.labels)
    write_json(folder.data, prepared.data_files)


def check_same_data(folder: RunFolder, data_files: dict) -> None:
    """--resume continues the run only on the data it started with: a changed file would change the
    vocabulary under the saved weights."""
    if not folder.data.is_file():
        return  # a run from before data.json was written
    saved = read_json(folder.data, "the run's data checksums")
    for key, record in data_files.items():
        before = saved.get(key, {}).get("sha256")
        if before and record.get("sha256") and before != record["sha256"]:
            raise RunFolderError(f"--resume: the {key} data ({record['path']}) changed since {folder.path} started "
                                 f"(sha256 {before[:12]}... then, {record['sha256'][:12]}... now); restore it, or "
                                 f"start a new run with --overwrite")


def results_record(prepared: Prepared, config, state: TrainerState, dev: dict, metric: str, runtime: Runtime,
                   parameters: int) -> dict:
    common = {"best_epoch": state.best_epoch, "epochs_run": state.epoch,
              "train_seconds": round(sum(r["train_seconds"] for r in state.history), 1),
              "parameters": parameters, "vectors": prepared.vectors, "encoder_init": prepared.transferred,
              "device": runtime_text(runtime)}
    if prepared.single:
        only = prepared.members[0]
        return {"task": only.member.config.task, "dataset": only.member.config.data.dataset,
                "data_summary": only.summary, "dev": dev, "selected_on": f"dev {metric}", **common}
    names = [p.member.name for p in prepared.members]
    mixture = TaskMixture(names, [p.train for p in prepared.members], config.sampling, config.temperature)
    probabilities = sampling_probabilities(mixture.sizes(config.train), config.sampling, config.temperature).tolist()
    tasks = {p.member.name: {"task": p.member.config.task, "recipe": p.member.config.recipe, "weight": p.member.weight,
                             "selected_on": f"dev {p.metric}", "data_summary": p.summary,
                             "dev": {k.split("/", 1)[1]: v for k, v in dev.items()
                                     if k.startswith(p.member.name + "/")}}
             for p in prepared.members}
    return {"tasks": tasks, "dev": dev, "selected_on": f"dev {metric}", "sampling": config.sampling,
            "sampling_probabilities": dict(zip(names, probabilities)), **common}


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


def cross_validate(config: RunConfig, run_dir: Path, resume: bool = False) -> dict:
    """k-fold CV: each fold trains on k-1 folds (minus a carved dev split for early stopping)
    and is scored on its held-out fold; the run reports mean and std over folds."""
    runtime = start(config)
    task, folder = get_task(config.task), RunFolder(run_dir)
    full = read_split(config, config.data.train)
    folds = list(enumerate(kfold(full.rows, config.data.folds, config.train.seed, task.strata(full.rows)), start=1))
    if runtime.main and not resume:  # first, so an interrupted run can be resumed
        write_json(folder.config, to_dict(config))
    member = Member("", config)
    per_fold = []
    for k, (train_rows, test_rows) in folds:
        fold_folder = folder.fold(k)

        def fold(k=k, train_rows=train_rows, test_rows=test_rows, fold_folder=fold_folder) -> dict:
            print(f"fold {k}/{config.data.folds}")
            rest = Part(full.rows.select(train_rows), full.source, {**full.record, "fold": k, "role": "train+dev"},
                        full.tokenizer)
            heldout = Part(full.rows.select(test_rows), full.source, {**full.record, "fold": k, "role": "heldout",
                                                                      "examples": len(test_rows)}, full.tokenizer)
            parts = [carve(rest, config.data.dev_fraction, config.train.seed, task)]
            prepared = prepare_run([member], config.encoder, config.train, parts=parts, heldout=heldout)
            return fit(prepared, config, fold_folder, resume=resume and fold_folder.holds_run(), runtime=runtime)

        per_fold.append(resumable(fold_folder.metrics, resume, fold)["heldout"])
    summary = {"folds": config.data.folds, "per_fold": per_fold}
    for key in per_fold[0]:
        if isinstance(per_fold[0][key], float):
            values = [fold[key] for fold in per_fold]
            summary[f"{key}_mean"] = statistics.mean(values)
            summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    results = {"task": config.task, "dataset": config.data.dataset, "cv": summary}
    if not runtime.main:
        return results
    return write_record(folder.metrics, results, config, config.train.seed, {"all": full.record})


__all__ = ["cross_validate", "fit", "prepare", "read_parts", "run"]
