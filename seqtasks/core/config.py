"""Typed run configuration: dataclasses, `--set a.b=value` overrides, JSON round trips.

Every recipe's `Config` is a `RunConfig` with other defaults, so a saved config.json always
loads back into `RunConfig`. Unknown keys fail loudly with the valid ones listed: a typo in
`--set` must never silently train the default model.
"""
from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtasks.core.errors import ConfigError


@dataclass
class DataConfig:
    dataset: str = "sst2"  # a built-in dataset; "" = your own files in train/dev (seqtasks/data/user_files.py)
    train: str = "train"  # a split name of the dataset's MANIFEST, or (dataset "") a file, folder or Hub id
    dev: str = ""  # "" = carve a dev split from train (dev_fraction), as for trec
    dev_fraction: float = 0.1
    dev_seed: int = 0  # carving dev: 0 = the run's seed (each seed draws its own rows); a number keeps the same rows across seeds
    train_rows: int = 0  # > 0: train on a seeded, stratified subset of this many training rows (learning curves)
    folds: int = 0  # > 0: k-fold cross-validation over `train` (mr, subj, cr, mpqa)
    lowercase: bool = True
    min_freq: int = 1
    max_tokens: int = 512  # longer inputs are an error naming file and line (a language model cuts them into chunks)
    output_words: int = 30_000  # a language model predicts the most frequent training words, at most this many
    # a language model: the built-in datasets' training texts, "all" or "for:DATASET[,DATASET]" (each
    # DATASET's source family left out, but its own train split when it has a dev split; seqtasks/data/corpus.py)
    corpus: str = ""
    tag_scheme: str = ""  # tagging: "" keeps the file's tags; BIO or BIOES convert IOB1 entity tags
    tag_column: str = "upos"  # CoNLL-U: upos or xpos
    # your own files (dataset ""):
    text: str = "text"  # the text column, or two comma-separated for pairs; raw text or a list of tokens
    label: str = "label"  # the gold column: a label, a score, or (CoNLL columns) the tag column
    columns: str = ""  # CoNLL-style column files: the columns' names, e.g. word,pos,ner (the first is the word)
    tokenizer: str = "words"  # raw text columns: "words" (split off punctuation) or "whitespace" (pre-tokenised)
    range: str = ""  # scores: "low,high" rescaled to [0, 1]; values outside are an error
    format: str = ""  # "" = by file extension: csv, tsv, json/jsonl, parquet, conll, conllu, arrow (a saved folder), text (one text a line)
    skip_bad_rows: bool = False  # drop rows with empty or missing text (counted in a warning) instead of failing


@dataclass
class EncoderConfig:
    embedding_dim: int = 50
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5
    cell: str = "lstm"  # lstm, reference, tied_gates, no_output_gate, rnn, separate_stacks (seqtasks/model/cells.py)
    forget_bias: float | None = None  # None: PyTorch's init; 1.0 is the usual choice
    word_dropout: float = 0.0  # training: share of tokens replaced by <unk>
    chars: bool = False  # a character CNN over each word's spelling, concatenated to its embedding
    char_features: int = 50  # the character CNN's output size, when chars is on
    vectors: str = "glove-6b-50d"  # "" (random init), "glove-6b-50d", or a GloVe/word2vec text file
    freeze_vectors: bool = False
    # the N most frequent words of the vectors join the training words in the vocabulary, so a word
    # unseen in training but known to the vectors keeps its meaning instead of becoming <unk>. It lifts
    # sst2 (+1.8 points), mpqa (+7.6), conll-ner (+2.8 F1); sst5 and trec stay within seed noise (README)
    vectors_vocab: int = 100_000
    init: str = ""  # a run folder whose trained encoder (weights, vocabulary, shape) starts this run, or recipe:NAME (that recipe's, pretrained once and cached)
    freeze_epochs: int = 0  # with init: the encoder stays as trained for this many epochs; the head learns first
    lm_finetune_epochs: int = 0  # with init: first fine-tune it for this many epochs as a language model on this run's own training text (each fold's and seed's own; seqtasks/engine/lm_finetune.py)


@dataclass
class HeadConfig:
    """Every head's options in one flat table, so `--set head.X=...` works for any head; each head
    declares which of them it takes (OPTIONS), and a value it does not take is an error."""

    name: str = ""  # "" = the task's default head (seqtasks/tasks)
    pooling: str = "last"  # last (h_T), mean, max or attention over every h_t
    attention_size: int = 64  # attention pooling: width of W in v^T tanh(W h_t + b)
    attention_heads: int = 1  # attention pooling: rows of v; the context vectors are concatenated
    attention_penalty: float = 0.0  # coefficient of ||A A^T - I||_F^2 (several heads)
    hidden_size: int = 0  # 0 = a single linear layer on the pooled vector
    dropout: float = 0.5
    crf: bool = False  # tagging: a linear-chain CRF instead of per-token softmax
    cosine_floor: float = -1.0  # matching scores: the cosine a gold score of 0 maps to (1 maps to 1)
    objective: str = "mse"  # cosine similarity head: mse (the cosine regresses onto the score), cosent (ranking) or angle (CoSENT + AnglE)
    score_levels: int = 5  # comparator similarity head: the points of Tai et al.'s target distribution
    tie_embedding: bool | None = None  # language model: the softmax's frequent-word rows are the input embedding's; None: where the shapes allow (hidden_size = embedding_dim)


@dataclass
class TrainConfig:
    seed: int = 13
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    lr_decay: float = 0.0  # epoch e (from 0) trains at lr / (1 + lr_decay * e), as Ma & Hovy (2016) do
    encoder_lr: float = 1.0  # the encoder's rate as a share of lr (ULMFiT's discriminative rates: < 1 keeps a pretrained encoder closer to what it learned)
    warmup: float = 0.0  # > 0: slanted-triangular rates (ULMFiT): a linear rise over this share of all steps, then a linear fall to lr/32
    weight_decay: float = 0.01
    clip_norm: float = 5.0
    average: float = 0.0  # > 0: dev scores, and best.safetensors holds, a moving average of the weights with this decay per step (seqtasks/engine/averaging.py)
    patience: int = 3  # epochs without dev improvement before stopping
    max_steps: int = 0  # > 0 caps optimizer steps per epoch (smoke tests)
    bucket_pool: int = 200  # rows are sorted by length within pools of this many batches; 1 = plain random batches
    threads: int = 0  # 0 = torch's default
    device: str = ""  # "" = cuda when available, else cpu (seqtasks train --device)
    amp: str = ""  # mixed precision on GPU: bf16, or fp16 with a gradient scaler (seqtasks train --amp)
    log: str = ""  # where each epoch's record goes besides log.jsonl: "tensorboard" (seqtasks/engine/loggers.py)


@dataclass
class RunConfig:
    recipe: str = ""
    task: str = "text-classification"  # the kind of task (seqtasks/tasks): what rows hold, heads, metrics
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class MultiTaskConfig:
    """One encoder trained for several tasks at once, each with its own head (seqtasks/engine/multitask.py).
    Each task is a recipe, or a TOML file of one (your own data); its data and head are its own, the
    encoder and the training settings are these."""

    recipe: str = "multi-task"
    tasks: str = ""  # comma-separated: recipe names or TOML files, e.g. "ud-pos,conll-ner"
    weights: str = ""  # each task's loss weight, comma-separated in the same order; "" = 1 each
    sampling: str = "proportional"  # which task a batch comes from: proportional, uniform or temperature
    temperature: float = 2.0  # sampling=temperature: task i with probability proportional to n_i^(1/temperature)
    select: str = "mean"  # the best epoch: "mean" of the tasks' dev selection metrics, or one task's name
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def valid_keys(config: Any, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            keys += valid_keys(value, f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def _parse(text: str, kind: Any, key: str) -> Any:
    options = typing.get_args(kind)
    if type(None) in options:  # Optional[X]: "none" or "null" clears it
        if text.lower() in {"none", "null"}:
            return None
        kind = next(option for option in options if option is not type(None))
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(text)
            return lowered in {"true", "1", "yes"}
        return kind(text)
    except ValueError:
        raise ConfigError(f"{key}={text!r}: expected a {kind.__name__}") from None


def set_value(config: Any, key: str, text: str) -> None:
    """Apply one `a.b=value` override in place, parsing the value as the field's type."""
    *path, name = key.split(".")
    target = config
    for part in path:
        target = getattr(target, part, None)
        if not dataclasses.is_dataclass(target):
            break
    fields = {f.name: f for f in dataclasses.fields(target)} if dataclasses.is_dataclass(target) else {}
    if name not in fields or dataclasses.is_dataclass(getattr(target, name)):
        raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(valid_keys(config))}")
    kind = typing.get_type_hints(type(target))[name]
    setattr(target, name, _parse(text, kind, key))


def apply_overrides(config: Any, overrides: list[str]) -> Any:
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        set_value(config, key.strip(), text.strip())
    return config


def from_dict(cls: type, data: dict, where: str = "config") -> Any:
    """Build a dataclass from JSON data, refusing keys it does not know and values of the wrong type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object of keys, found {type(data).__name__} {data!r:.60}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; valid keys: {sorted(names)}")
    values = {}
    for name, value in data.items():
        kind = hints[name]
        values[name] = (from_dict(kind, value, f"{where}.{name}") if dataclasses.is_dataclass(kind)
                        else typed(value, kind, f"{where}.{name}"))
    return cls(**values)


def typed(value: Any, kind: Any, where: str) -> Any:
    """A JSON value as the field's type (an int where a float is declared is fine), or a ConfigError."""
    options = [k for k in typing.get_args(kind) if k is not type(None)] or [kind]
    if value is None and type(None) in typing.get_args(kind):
        return None
    for option in options:
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, option) and (option is bool or not isinstance(value, bool)):
            return value
    names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise ConfigError(f"{where}={value!r}: expected a {names}")


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def load_config(path: Path) -> RunConfig:
    return from_dict(RunConfig, json.loads(Path(path).read_text()), where=str(path))


def read_config_file(path: Path | str) -> dict:
    """A TOML file (any subset of the config) or a run's config.json (all of it: the exact rerun)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such config file: {path}")
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text())
        return tomllib.loads(path.read_text())
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({error})") from None


def merge(config: Any, data: dict, where: str = "config") -> Any:
    """Set every key of `data` (nested tables for nested dataclasses) on `config`, refusing unknown keys."""
    hints = typing.get_type_hints(type(config))
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; valid keys: {sorted(names)}")
    for name, value in data.items():
        current = getattr(config, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{name}: expected a table of keys, found {value!r}")
            merge(current, value, f"{where}.{name}")
        else:
            setattr(config, name, _parse(str(value).lower() if isinstance(value, bool) else str(value),
                                         hints[name], f"{where}.{name}") if value is not None else None)
    return config


@dataclass(frozen=True)
class Range:
    """The values a numeric field accepts: low <= value <= high (strict where `open` says so)."""

    low: float
    high: float = float("inf")
    open_low: bool = False
    open_high: bool = False

    def holds(self, value: float) -> bool:
        if not math.isfinite(value):  # NaN and infinities never
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def text(self) -> str:
        left = f"{'(' if self.open_low else '['}{self.low:g}"
        right = "inf)" if self.high == float("inf") else f"{self.high:g}{')' if self.open_high else ']'}"
        return f"{left}, {right}"


POSITIVE, NONNEGATIVE, SHARE = Range(1), Range(0), Range(0, 1, open_high=True)
# Every numeric field's allowed values, by the key `--set` takes; one table, checked before a run
# touches its folder, so `train.lr=-1` is one line instead of a traceback after the data was read.
RANGES: dict[str, Range] = {
    "data.dev_fraction": Range(0, 1, open_low=True, open_high=True), "data.dev_seed": NONNEGATIVE,
    "data.min_freq": POSITIVE, "data.train_rows": NONNEGATIVE,
    "data.max_tokens": NONNEGATIVE, "data.output_words": Range(3),
    "encoder.embedding_dim": POSITIVE, "encoder.hidden_size": POSITIVE, "encoder.num_layers": POSITIVE,
    "encoder.dropout": SHARE, "encoder.word_dropout": SHARE, "encoder.char_features": POSITIVE,
    "encoder.vectors_vocab": NONNEGATIVE, "encoder.freeze_epochs": NONNEGATIVE,
    "encoder.lm_finetune_epochs": NONNEGATIVE,
    "encoder.forget_bias": Range(float("-inf")),
    "head.attention_size": POSITIVE, "head.attention_heads": POSITIVE, "head.attention_penalty": NONNEGATIVE,
    "head.hidden_size": NONNEGATIVE, "head.dropout": SHARE, "head.cosine_floor": Range(-1, 1, open_high=True),
    "head.score_levels": Range(2),
    "train.epochs": POSITIVE, "train.batch_size": POSITIVE, "train.lr": Range(0, open_low=True),
    "train.lr_decay": NONNEGATIVE, "train.encoder_lr": Range(0, open_low=True), "train.warmup": SHARE, "train.weight_decay": NONNEGATIVE, "train.clip_norm": NONNEGATIVE,
    "train.average": SHARE, "train.patience": POSITIVE, "train.max_steps": NONNEGATIVE,
    "train.bucket_pool": POSITIVE, "train.threads": NONNEGATIVE,
    "temperature": Range(0, open_low=True),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "train.amp": ("", "bf16", "fp16"), "data.tag_scheme": ("", "BIO", "BIOES"),
    "data.format": ("", "csv", "tsv", "json", "jsonl", "parquet", "conll", "conllu", "arrow", "text"),
}
# Keys that describe your own files: a built-in dataset is read in its own format, so setting one of
# them there would be silently ignored.
OWN_FILE_KEYS = ("text", "label", "columns", "tokenizer", "range", "format", "skip_bad_rows")


def check_values(config: Any, prefix: str = "") -> None:
    """Every field inside its range or choices (RANGES, CHOICES), and no own-file key with a built-in
    dataset: the first offender as one line with the key and what it accepts."""
    for f in dataclasses.fields(config):
        key, value = prefix + f.name, getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            check_values(value, key + ".")
        elif key in RANGES and value is not None and not RANGES[key].holds(float(value)):
            raise ConfigError(f"{key}={value!r}: expected a value in {RANGES[key].text()}")
        elif key in CHOICES and value not in CHOICES[key]:
            raise ConfigError(f"{key}={value!r}: expected one of {', '.join(repr(c) for c in CHOICES[key])}")
    if isinstance(config, EncoderConfig) and config.lm_finetune_epochs and not config.init:
        raise ConfigError(f"encoder.lm_finetune_epochs={config.lm_finetune_epochs}: fine-tunes the encoder that "
                          f"encoder.init names; set encoder.init=RUN (a language model) as well")
    if isinstance(config, DataConfig):
        if config.folds == 1 or config.folds < 0:
            raise ConfigError(f"data.folds={config.folds}: expected 0 (no cross-validation) or at least 2")
        if config.dataset:
            defaults = DataConfig()
            foreign = [k for k in OWN_FILE_KEYS if getattr(config, k) != getattr(defaults, k)]
            if foreign:
                raise ConfigError(f"data.{foreign[0]}={getattr(config, foreign[0])!r} describes your own files; "
                                  f"the built-in dataset {config.dataset!r} is read in its own format (set "
                                  f"data.dataset=\"\" and data.train=FILE to read a file of yours)")
