"""One encoder, a head per task, trained together (a MultiTaskConfig and its tasks, each a RunConfig):
a run of several members through the one pipeline (seqtasks/engine/pipeline.py).

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

from pathlib import Path

from seqtasks.core.config import MultiTaskConfig
from seqtasks.core.errors import ConfigError
from seqtasks.engine.mixture import sampling_probabilities
from seqtasks.engine.pipeline import fit, prepare_run, start
from seqtasks.engine.prepare import Member, check_member
from seqtasks.engine.run import RunFolder


def check_members(config: MultiTaskConfig, members: list[Member]) -> None:
    names = [m.name for m in members]
    if len(members) < 2:
        raise ConfigError(f"tasks={config.tasks!r}: a multi-task run needs at least two tasks")
    if len(set(names)) != len(names) or not all(names):
        raise ConfigError(f"tasks: each task needs a name of its own; got {names}")
    if config.select not in ("mean", *names):
        raise ConfigError(f"select={config.select!r}: expected mean or one of the tasks: {', '.join(names)}")
    for member in members:
        if member.task.lower_is_better:
            raise ConfigError(f"task {member.name}: a {member.config.task} run pretrains the encoder on its own; "
                              f"start the multi-task run from it with encoder.init instead")
        if member.config.data.folds:
            raise ConfigError(f"task {member.name}: a cross-validated recipe has no dev split to select on; "
                              f"give it one (data.dev) in a TOML file of its own")
        check_member(member)
    sampling_probabilities([1] * len(members), config.sampling, config.temperature)  # a bad rule fails here


def run(config: MultiTaskConfig, members: list[Member], run_dir: Path, resume: bool = False) -> dict:
    check_members(config, members)
    runtime = start(config)
    if runtime.world > 1:
        raise ConfigError("a multi-task run trains in one process; run it without torchrun")
    return fit(prepare_run(members, config.encoder, config.train), config, RunFolder(run_dir), resume, runtime)


__all__ = ["Member", "check_members", "run"]
