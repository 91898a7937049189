"""The one prepare step every run takes, for one task or many: read each member's parts -> one
vocabulary over all of them -> each member's label set -> encode -> build the model (the encoder,
then each head onto it) -> the pretrained vectors and a transferred encoder.

Everything that can fail on the user's input (data, config ranges, vocabulary, model construction)
fails here, before a run folder is touched: `fit` (seqtasks/engine/pipeline.py) writes only what
`prepare` returned. A single-task run is a run of one member; cross-validation prepares each fold;
the benchmarks prepare their data the same way, so their shapes are the recipes' own.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import torch
from datasets import Dataset, concatenate_datasets

from seqtasks.core.config import DataConfig, EncoderConfig, RunConfig, TrainConfig, check_values
from seqtasks.core.errors import CheckpointError, ConfigError, DataFormatError
from seqtasks.data.arrow_tokens import count_tokens, token_lists
from seqtasks.data.corpus import build_corpus
from seqtasks.data.readers import is_pair_reader, read_file
from seqtasks.data.resolve import dataset_source, file_sha256, resolve_split
from seqtasks.data.splits import carve_dev, subset
from seqtasks.data.tagging import convert_scheme
from seqtasks.data.user_files import Gold, parse_range, read_user_file
from seqtasks.data.vectors import init_embedding, load_vectors
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.engine.pretrained import init_folder
from seqtasks.engine.run import RunFolder, load_encoder
from seqtasks.model.encoder import LSTMEncoder
from seqtasks.tasks import Task, get_task
from seqtasks.tasks.base import Split
from seqtasks.tasks.model import MultiTaskModel, SequenceModel


@dataclass
class Part:
    """A dataset part with where it came from, for error messages and the run's provenance."""

    rows: Dataset
    source: str
    record: dict
    tokenizer: str = "whitespace"  # how raw text is split at predict time: "whitespace" or "words"


@dataclass
class Member:
    """One task of a run: its name ("" for a single-task run; --task NAME of a multi-task one), its
    config (its task, data and head; the encoder and training settings are the run's), its loss weight."""

    name: str
    config: RunConfig
    weight: float = 1.0

    @property
    def task(self) -> Task:
        return get_task(self.config.task)


@dataclass
class PreparedMember:
    """A member with its data read, labelled and encoded."""

    member: Member
    train_part: Part
    dev_part: Part
    vocab: Vocab  # the shared vocabulary, with this member's lowercasing and tokenizer
    labels: LabelSet
    train: Split
    dev: Split
    summary: dict
    heldout: Split | None = None

    @property
    def task(self) -> Task:
        return self.member.task

    @property
    def metric(self) -> str:
        return self.task.selection_metric(self.labels.labels)


@dataclass
class Prepared:
    """Everything a run needs before its folder is written: the members, their shared vocabulary, the
    built model, and what initialised it (vectors, a transferred encoder)."""

    members: list[PreparedMember]
    vocab: Vocab
    model: SequenceModel | MultiTaskModel
    vectors: dict | None = None
    transferred: dict | None = None
    data_files: dict = field(default_factory=dict)

    @property
    def single(self) -> bool:
        return len(self.members) == 1 and not self.members[0].member.name


def read_rows(config: RunConfig, path: Path | str) -> tuple[Dataset, str]:
    """(rows, tokenizer) of a file: a built-in dataset's own format, or (data.dataset "") a user's
    file with the columns data.text/data.label name; tags converted to the run's scheme."""
    data, task = config.data, get_task(config.task)
    if data.dataset:
        reader = dataset_source(data.dataset).reader
        rows = read_file(reader, path, tag_column=data.tag_column)
        tokenizer = "words" if task.pair or is_pair_reader(reader) else "whitespace"
        if task.gold == "text":
            rows = texts_only(rows, is_pair_reader(reader))
    else:
        rows, tokenizer = read_user_file(str(path), data, task.pair, Gold(task.gold, parse_range(data.range)))
    if task.gold == "text":
        return chunked(rows, data.max_tokens), tokenizer
    return convert_scheme(rows, data.tag_scheme), tokenizer


def texts_only(rows: Dataset, pair: bool) -> Dataset:
    """A labelled dataset's text for a language model: its labels dropped, a pair's two texts as two rows."""
    texts = rows.select_columns(["tokens", "line"])
    if not pair:
        return texts
    second = rows.select_columns(["tokens_b", "line"]).rename_column("tokens_b", "tokens")
    return concatenate_datasets([texts, second])


def chunked(rows: Dataset, max_tokens: int) -> Dataset:
    """Texts longer than max_tokens cut into consecutive chunks of at most max_tokens (a language model
    reads documents whole, where a classifier would refuse them)."""
    lengths = np.asarray(pc.list_value_length(token_lists(rows)))
    if not max_tokens or len(lengths) == 0 or lengths.max() <= max_tokens:
        return rows
    tokens, lines = [], []
    for words, line in zip(rows["tokens"], rows["line"]):
        for start in range(0, len(words), max_tokens):
            tokens.append(words[start : start + max_tokens])
            lines.append(line)
    return Dataset.from_dict({"tokens": tokens, "line": lines})


def read_split(config: RunConfig, split: str) -> Part:
    """A built-in dataset's split by name, or (data.dataset "") the user's file, folder or Hub id; a
    language model's data.corpus instead of either."""
    if config.data.corpus:
        return read_corpus(config)
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


def read_corpus(config: RunConfig) -> Part:
    if config.task != "language-model" or config.data.dataset or config.data.train or config.data.dev:
        raise ConfigError(f"data.corpus={config.data.corpus!r} is a language model's whole training text: use it with "
                          f"the language-model task and without data.dataset, data.train or data.dev")
    corpus = build_corpus(config.data.corpus)
    print(f"corpus {config.data.corpus}: {corpus.record['lines']} lines from "
          f"{', '.join(f'{k} {v}' for k, v in corpus.record['datasets'].items())}; "
          f"{corpus.record['removed_as_dev_text']} lines equal to a dev split's removed")
    rows = chunked(corpus.rows, config.data.max_tokens)
    return Part(rows, f"corpus {config.data.corpus}", {"split": "corpus", **corpus.record, "examples": len(rows), "sha256": ""},
                "words")


def carve(part: Part, fraction: float, seed: int, task: Task) -> tuple[Part, Part]:
    try:
        train_rows, dev_rows = carve_dev(part.rows, fraction, seed, task.strata(part.rows))
    except ValueError as error:  # scikit-learn: too few rows, or a class with a single row
        raise DataFormatError(part.source, 1, f"cannot carve a {fraction:.0%} dev split from {len(part.rows)} rows "
                                              f"({error}); give a dev file with data.dev=FILE") from error
    lines = list(dev_rows["line"])
    dev_record = {"carved_from": part.record["split"], "fraction": fraction, "seed": seed, "examples": len(lines),
                  "sha256": part.record.get("sha256", ""), "lines": lines}
    return (Part(train_rows, part.source, {**part.record, "examples": len(train_rows)}, part.tokenizer),
            Part(dev_rows, part.source, dev_record, part.tokenizer))


def read_parts(config: RunConfig) -> tuple[Part, Part]:
    """(train, dev) of a config: its dev file, or a dev split carved from train with data.dev_seed (by
    default the run's seed, so a run's seeds differ in their dev rows too); with
    data.train_rows, train is a seeded subset of that many rows (dev stays whole)."""
    train_part = read_split(config, config.data.train)
    if config.data.dev:
        dev_part = read_split(config, config.data.dev)
    else:
        train_part, dev_part = carve(train_part, config.data.dev_fraction, config.data.dev_seed or config.train.seed,
                                     get_task(config.task))
    return fewer_rows(train_part, config), dev_part


def fewer_rows(part: Part, config: RunConfig) -> Part:
    rows = config.data.train_rows
    if not rows or rows >= len(part.rows):
        return part
    try:
        kept = subset(part.rows, rows, config.train.seed, get_task(config.task).strata(part.rows))
    except ValueError as error:  # scikit-learn: fewer rows than classes
        raise DataFormatError(part.source, 1, f"data.train_rows={rows}: cannot draw a stratified subset "
                                              f"({error})") from error
    return Part(kept, part.source, {**part.record, "examples": len(kept), "train_rows": rows}, part.tokenizer)


def build_vocab(members: list[Member], parts: list[Part], encoder: EncoderConfig) -> Vocab:
    """Every member's training words (each counted with its own lowercasing), then the vectors' most
    frequent words (encoder.vectors_vocab): one embedding table for all. One member's vocabulary keeps
    its tokenizer, so raw text at predict time is split as its training file was."""
    counts: Counter = Counter()
    for member, part in zip(members, parts):
        counts.update(count_tokens([token_lists(part.rows, column) for column in member.task.text_columns],
                                   member.config.data.lowercase))
    lowercase = all(m.config.data.lowercase for m in members)
    tokenizer = parts[0].tokenizer if len(members) == 1 else "whitespace"
    vocab = Vocab.from_counts(counts, min(m.config.data.min_freq for m in members), lowercase=lowercase,
                              tokenizer=tokenizer)
    if encoder.vectors and encoder.vectors_vocab:
        vocab = vocab.extend(load_vectors(encoder.vectors).words[: encoder.vectors_vocab])
    return vocab


def build_model(task: Task, config: RunConfig, encoder: LSTMEncoder, labels: list[str]) -> SequenceModel:
    """A task's head built onto the encoder it is given (shared by every member of a multi-task run)."""
    return task.build_model(config, encoder, labels)


ARCHITECTURE = ("embedding_dim", "hidden_size", "num_layers", "bidirectional", "cell", "chars", "char_features")


def adopt_shape(encoder: EncoderConfig, data: list[DataConfig], source_config: EncoderConfig,
                source_lowercase: bool) -> None:
    """encoder.init: the source encoder's shape becomes this run's (every member's, in a multi-task run);
    its weights only fit that shape. So does its vocabulary's case: a lowercasing vocabulary has rows for
    lowercase words only."""
    changed = [f"{key}={getattr(source_config, key)}" for key in ARCHITECTURE
               if getattr(encoder, key) != getattr(source_config, key)]
    for key in ARCHITECTURE:
        setattr(encoder, key, getattr(source_config, key))
    if any(d.lowercase != source_lowercase for d in data):
        changed.append(f"data.lowercase={source_lowercase}")
    for d in data:
        d.lowercase = source_lowercase
    if changed:
        print(f"encoder.init: the encoder's shape comes from {encoder.init}: {', '.join(changed)}")


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


def attach_vectors(model: torch.nn.Module, vocab: Vocab, encoder: EncoderConfig, seed: int) -> dict | None:
    """Initialise the embedding from pretrained vectors (optionally frozen); None without vectors."""
    if not encoder.vectors:
        return None
    record = init_embedding(model.encoder.embedding.weight, vocab, load_vectors(encoder.vectors), seed=seed)
    model.encoder.embedding.weight.requires_grad_(not encoder.freeze_vectors)
    print(f"vectors {record['name']}: {record['coverage']:.1%} of the vocabulary covered")
    return record


def data_summary(task: Task, train_part: Part, train_split: Split, dev_split: Split) -> dict:
    """What a user should see before trusting a run: rows read, label counts, how much of dev the
    vocabulary does not know, and the longest sequence. Printed, and kept in metrics.json."""
    summary = {"train_rows": len(train_split), "dev_rows": len(dev_split),
               "label_counts": dict(Counter(task.label_values(train_part.rows)).most_common()),
               "dev_unknown_token_share": round(float((dev_split.flat_ids == 1).float().mean()), 4),
               "longest_sequence": int(max(train_split.lengths.max(), dev_split.lengths.max()))}
    counts = ", ".join(f"{k} {v}" for k, v in list(summary["label_counts"].items())[:8])
    print(f"data: {summary['train_rows']} train / {summary['dev_rows']} dev rows; labels: {counts or task.gold}; "
          f"{summary['dev_unknown_token_share']:.1%} of dev tokens unknown to the vocabulary; "
          f"longest sequence {summary['longest_sequence']} tokens")
    return summary


def check_member(member: Member) -> None:
    """The config values and the head's name and options, before any data is read."""
    check_values(member.config)
    member.task.head_class(member.config.head)


@dataclass
class PreparedData:
    """The members read, labelled and encoded over one vocabulary; and the encoder they transfer from."""

    members: list[PreparedMember]
    vocab: Vocab
    source: LSTMEncoder | None = None  # encoder.init's trained encoder
    source_dir: Path | None = None  # the run folder it came from (a recipe's cached run for recipe:NAME)


def prepare_data(members: list[Member], encoder: EncoderConfig, parts: list[tuple[Part, Part]] | None = None,
                 heldout: Part | None = None) -> PreparedData:
    """Check every member's config, read its parts (unless given, as for a CV fold), build the one
    vocabulary, then label and encode each member. The benchmarks stop here; `prepare` goes on."""
    for member in members:
        check_member(member)
    parts = parts or [read_parts(m.config) for m in members]
    source, source_dir = None, None
    if encoder.init:  # after the data is read: a missing file is found before any pretraining
        source_dir = init_folder(encoder.init)
        source, source_vocab, source_config = load_encoder(RunFolder(source_dir))
        adopt_shape(encoder, [m.config.data for m in members], source_config, source_vocab.lowercase)
    vocab = build_vocab(members, [train_part for train_part, _ in parts], encoder)
    if source is not None:
        vocab = source_vocab.extend(vocab.tokens[2:])
    prepared = []
    for member, (train_part, dev_part) in zip(members, parts):
        task, data = member.task, member.config.data
        view = vocab if len(members) == 1 else Vocab(vocab.tokens, lowercase=data.lowercase,
                                                     tokenizer=train_part.tokenizer)
        labels = task.label_set(train_part.rows, view, member.config)

        def encode(part: Part, task=task, view=view, labels=labels, data=data) -> Split:
            return task.encode(part.rows, view, labels, part.source, data.max_tokens, encoder.chars)

        train_split, dev_split = encode(train_part), encode(dev_part)  # checks labels and lengths
        if member.name:
            print(f"{member.name}: ", end="")
        summary = data_summary(task, train_part, train_split, dev_split)
        prepared.append(PreparedMember(member, train_part, dev_part, view, labels, train_split, dev_split, summary,
                                       encode(heldout) if heldout is not None else None))
    return PreparedData(prepared, vocab, source, source_dir)


def prepare(members: list[Member], encoder: EncoderConfig, train: TrainConfig,
            parts: list[tuple[Part, Part]] | None = None, heldout: Part | None = None) -> Prepared:
    """prepare_data, then the model: the encoder, each member's head built onto it, the pretrained
    vectors and a transferred encoder's weights. Writes nothing."""
    data = prepare_data(members, encoder, parts, heldout)
    prepared, vocab = data.members, data.vocab
    torch.manual_seed(train.seed)
    shared = LSTMEncoder.from_config(encoder, len(vocab), vocab=vocab)
    built = {p.member.name: build_model(p.task, p.member.config, shared, p.labels.labels) for p in prepared}
    model = built[""] if len(members) == 1 and not members[0].name else MultiTaskModel(
        shared, built, {m.name: m.weight for m in members})
    vectors = attach_vectors(model, vocab, encoder, train.seed)
    transferred = None if data.source is None else {"run": encoder.init, "folder": str(data.source_dir),
                                                  **load_transferred(model, data.source)}
    data_files = {}
    for p in prepared:
        prefix = f"{p.member.name}/" if p.member.name else ""
        data_files.update({prefix + "train": p.train_part.record, prefix + "dev": p.dev_part.record})
    if heldout is not None:
        data_files["heldout"] = heldout.record
    return Prepared(prepared, vocab, model, vectors, transferred, data_files)
