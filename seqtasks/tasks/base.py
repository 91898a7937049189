"""What every kind of task declares, once: what its rows hold, its heads, how a batch is encoded,
its metrics and the one that selects the best epoch, what `predict` writes and how `explain`
shows an example. Everything after the head's forward asks the task instead of guessing.

A kind is a subclass in its own file, registered in seqtasks/tasks/__init__.py.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from datasets import Dataset
from torch import nn

from heads import HeadOutput
from seqtasks.core.config import HeadConfig, RunConfig
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import (
    EncodedPairs,
    EncodedSplit,
    encode_pairs,
    encode_split,
)
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.model.encoder import EncoderOutput, LSTMEncoder
from seqtasks.tasks.model import SequenceModel

Split = EncodedSplit | EncodedPairs


class Task:
    name: str = ""
    description: str = ""
    pair: bool = False  # rows hold two texts: `tokens` and `tokens_b`
    gold: str = "label"  # the gold column: "label" (one per row), "tags" (one per token) or "score"
    heads: ClassVar[dict[str, type]] = {}
    default_head: str = ""
    lower_is_better: bool = False  # of the selection metric (a language model's perplexity)
    exportable: bool = True  # whether `seqtasks export` can write it as an ONNX graph
    # What `seqtasks tune` varies unless told otherwise (spelling: seqtasks/core/space.py): the knobs the
    # README's hand-run ablations moved, over the ranges they found worth trying. A head.* key the
    # chosen head does not take is left out (search_space below).
    default_space: ClassVar[tuple[str, ...]] = (
        "train.lr=log:3e-4:5e-3", "train.batch_size=cat:16,32,64", "train.weight_decay=log:1e-4:1e-1",
        "train.patience=cat:3,5,10", "train.average=cat:0,0.99",
        "encoder.hidden_size=cat:64,128,256", "encoder.num_layers=cat:1,2", "encoder.dropout=float:0.1:0.6",
        "encoder.chars=cat:false,true",
        "head.pooling=cat:last,max,attention", "head.dropout=float:0.1:0.6", "head.crf=cat:false,true")

    # -- configuration ---------------------------------------------------------------------------
    def head_class(self, head: HeadConfig) -> type:
        """The head the config names (or the default), refusing options that head does not take."""
        name = head.name or self.default_head
        if name not in self.heads:
            raise ConfigError(f"head.name={name!r} is not a head of {self.name}; its heads: {', '.join(self.heads)}")
        cls = self.heads[name]
        defaults = HeadConfig()
        foreign = [f.name for f in dataclasses.fields(head) if f.name != "name" and f.name not in cls.OPTIONS
                   and getattr(head, f.name) != getattr(defaults, f.name)]
        if foreign:
            raise ConfigError(f"head.{foreign[0]}={getattr(head, foreign[0])!r}: the {name} head of {self.name} takes "
                              f"no option {foreign[0]}; its options: {', '.join(cls.OPTIONS)}")
        return cls

    def search_space(self, head: HeadConfig) -> list[str]:
        """default_space without the head.* keys this task's configured head takes no option for."""
        options = self.head_class(head).OPTIONS
        return [item for item in self.default_space
                if not item.startswith("head.") or item.split("=")[0].removeprefix("head.") in options]

    def build_head(self, config: RunConfig, input_size: int, labels: list[str]) -> nn.Module:
        """The config's head for an encoder output of `input_size`. Heads get the label names, not just
        their number: a CRF derives its allowed moves from them."""
        return self.head_class(config.head)(input_size, labels, config.head)

    def build_model(self, config: RunConfig, encoder: LSTMEncoder, labels: list[str]) -> SequenceModel:
        """The head built onto the encoder it is given (a multi-task run gives every task the same one)."""
        return SequenceModel(encoder, self.build_head(config, encoder.output_size, labels), embeds=self.pair)

    # -- data ------------------------------------------------------------------------------------
    @property
    def text_columns(self) -> tuple[str, ...]:
        """The token-list columns of a row (both sides of pairs): what a vocabulary is built from."""
        return ("tokens", "tokens_b") if self.pair else ("tokens",)

    def label_values(self, rows: Dataset) -> list[str]:
        """Every gold label, for the label set (one per row; tagging overrides)."""
        return list(rows[self.gold])

    def label_set(self, rows: Dataset, vocab: Vocab, config: RunConfig) -> LabelSet:
        """The labels a head predicts, from the training rows."""
        return LabelSet.build(self.label_values(rows))

    def strata(self, rows: Dataset) -> list | None:
        """What a carved dev split or CV folds are stratified by (None: no classes to balance)."""
        return list(rows[self.gold])

    def encode(self, rows: Dataset, vocab: Vocab, labels: LabelSet | None, source: str, max_tokens: int = 0,
               chars: bool = False) -> Split:
        """Rows -> ids once; with a label set (None for unlabelled text, as in predict) also the gold."""
        if self.pair:
            split = encode_pairs(rows, vocab, source, max_tokens, chars)
        else:
            split = encode_split(rows, vocab, source, max_tokens, chars)
        if labels is not None and self.gold in rows.column_names:
            split.labels = self.encode_gold(rows, labels, source)
        return split

    def encode_gold(self, rows: Dataset, labels: LabelSet, source: str) -> torch.Tensor:
        return torch.tensor(labels.encode(list(rows[self.gold]), where=source, lines=list(rows["line"])),
                            dtype=torch.long)

    # -- scoring ---------------------------------------------------------------------------------
    def selection_metric(self, labels: list[str]) -> str:
        """The dev metric (higher is better) that selects the best epoch."""
        return "accuracy"

    def outputs(self, model: SequenceModel, encoded: EncoderOutput, output: HeadOutput) -> dict[str, torch.Tensor]:
        """The named tensors a deployed model returns for a batch (the exported graph's outputs, in
        this order); `predictions` is built from them alone, so both backends share it."""
        raise NotImplementedError

    def predictions(self, model, split: Split) -> Any:
        """The answers of a model (a SequenceModel or a deployed one) for every row, in row order
        (the task's own shape)."""
        raise NotImplementedError

    def metrics(self, split: Split, predictions: Any, labels: list[str]) -> dict:
        raise NotImplementedError

    def score(self, model, split: Split, labels: list[str]) -> dict:
        return self.metrics(split, self.predictions(model, split), labels)

    # -- predict and explain ---------------------------------------------------------------------
    def record(self, texts: list[str], tokens: list[list[str]], predictions: Any, row: int,
               labels: list[str]) -> dict:
        """predict's JSON line for one input row."""
        raise NotImplementedError

    def headline(self, record: dict) -> str:
        """One record as a person reads it next to an explanation, e.g. `pos (0.912)`."""
        return ""

    def example_losses(self, model: SequenceModel, output: HeadOutput, gold: torch.Tensor) -> torch.Tensor:
        """Loss per example [B] (explain's worst examples)."""
        raise NotImplementedError

    def shown(self, model: SequenceModel, output: HeadOutput, gold: torch.Tensor, position: int,
              labels: list[str]) -> tuple[str, str]:
        """(gold, predicted) of one example as a person reads them."""
        raise NotImplementedError


class ScoredTask(Task):
    """A task whose gold is a number per row (no label set, no classes to stratify by)."""

    gold = "score"

    def label_values(self, rows: Dataset) -> list[str]:
        return []

    def strata(self, rows: Dataset) -> None:
        return None

    def encode_gold(self, rows: Dataset, labels: LabelSet, source: str) -> torch.Tensor:
        return torch.tensor(list(rows[self.gold]), dtype=torch.float32)

    def selection_metric(self, labels: list[str]) -> str:
        return "pearson"
