"""The task layer: each kind of task declared once (seqtasks/tasks/<kind>.py), registered here by the
name a config's `task` holds (the Hugging Face task names users know)."""
from __future__ import annotations

from seqtasks.core.errors import ConfigError
from seqtasks.model.encoder import LSTMEncoder
from seqtasks.tasks.base import Task
from seqtasks.tasks.language_model import LanguageModeling
from seqtasks.tasks.model import SequenceModel
from seqtasks.tasks.pair_classification import PairClassification
from seqtasks.tasks.sentence_similarity import SentenceSimilarity
from seqtasks.tasks.text_classification import TextClassification
from seqtasks.tasks.text_regression import TextRegression
from seqtasks.tasks.token_classification import TokenClassification

TASKS: dict[str, Task] = {task.name: task for task in (
    TextClassification(), TokenClassification(), SentenceSimilarity(), PairClassification(), TextRegression(),
    LanguageModeling())}

# run folders written before the task layer name only a head; "matching" was both pair kinds
LEGACY_HEADS = {"classification": ("text-classification", "classification"),
                "tagging": ("token-classification", "tagging"), "regression": ("text-regression", "regression")}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}")
    return TASKS[name]


def build_model(config, vocab_size: int, labels: list[str]) -> SequenceModel:
    """A new model for a RunConfig: its encoder, then its task's head built onto it."""
    return get_task(config.task).build_model(config, LSTMEncoder.from_config(config.encoder, vocab_size), labels)


def legacy_task(head: str, labels: list[str]) -> tuple[str, str]:
    """(task, head) for a config saved before the task layer existed."""
    if head == "matching":
        return ("pair-classification" if labels else "sentence-similarity"), "cosine"
    if head not in LEGACY_HEADS:
        raise ConfigError(f"unknown head {head!r} in a config without a task")
    return LEGACY_HEADS[head]


__all__ = ["TASKS", "Task", "build_model", "get_task", "legacy_task"]
