"""A pretraining corpus from the built-in datasets' training texts that never holds a target's dev or
test text (data.corpus = "all", "for:DATASET" or "for:DATASET,DATASET").

Datasets share sources: SST-2, SST-5, MR and SUBJ's subjective half are the same Rotten Tomatoes
snippets, and STS-B's MSRpar pairs come from MRPC's news. A sentence in one dataset's test split can
be another's training sentence, so for a target the corpus leaves the target's whole source family
out, except the target's own training split, and that only when the target has a dev split of its
own (trec's dev is carved from its training split, so trec's text stays out). Only training splits
go in: the cross-validated datasets (one file, every row a test row in some fold) never do. Every
line that equals a dev split's line (lowercase, whitespace collapsed) is removed. What went in is
recorded with the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from datasets import Dataset

from seqtasks.core.errors import ConfigError
from seqtasks.data.readers import is_pair_reader, read_file
from seqtasks.data.resolve import all_sources, resolve_split

FAMILIES = [{"sst2", "sst5", "mr", "subj"}, {"mrpc", "stsb"}, {"sick"}]
TRAIN_SPLITS = {"trec": "train_coarse"}  # train_fine holds the same questions
DEV_SPLITS = ("dev", "val", "trial")


@dataclass
class Corpus:
    rows: Dataset  # tokens, line (the line in its own file)
    record: dict = field(default_factory=dict)  # datasets and lines that went in, duplicates removed


def family(name: str) -> set[str]:
    return next((f for f in FAMILIES if name in f), {name})


def members(spec: str) -> list[str]:
    """The datasets whose training split goes in, for "all" or "for:TARGET" ("for:A,B" for a multi-task
    run's targets: every target's family out, each target's own training split in)."""
    sources = all_sources()
    with_train = [n for n, s in sources.items() if TRAIN_SPLITS.get(n, "train") in s.splits]
    if spec == "all":
        return sorted(with_train)
    targets = spec.removeprefix("for:").split(",")
    if not spec.startswith("for:") or not all(t in sources for t in targets):
        raise ConfigError(f"data.corpus={spec!r}: expected all or for:DATASET[,DATASET], datasets from "
                          f"{', '.join(sorted(sources))}")
    left_out = set().union(*(family(t) for t in targets))
    own = {t for t in targets if any(split in sources[t].splits for split in DEV_SPLITS)}
    return sorted(n for n in with_train if n not in left_out or n in own)


def normalised(tokens: list[str]) -> str:
    return " ".join(tokens).lower()


def texts(name: str, split: str) -> list[tuple[list[str], int]]:
    """(tokens, line) of every text of a split, both sides of a pair."""
    reader = all_sources()[name].reader
    rows = read_file(reader, resolve_split(name, split).path)
    out = list(zip(rows["tokens"], rows["line"]))
    if is_pair_reader(reader):
        out += list(zip(rows["tokens_b"], rows["line"]))
    return out


def build_corpus(spec: str) -> Corpus:
    sources = all_sources()
    dev = {normalised(tokens) for name, source in sources.items() for split in DEV_SPLITS
           if split in source.splits for tokens, _ in texts(name, split)}
    tokens, lines, record = [], [], {"spec": spec, "datasets": {}, "removed_as_dev_text": 0}
    for name in members(spec):
        kept = 0
        for words, line in texts(name, TRAIN_SPLITS.get(name, "train")):
            if normalised(words) in dev:
                record["removed_as_dev_text"] += 1
                continue
            tokens.append(words)
            lines.append(line)
            kept += 1
        record["datasets"][name] = kept
    record["lines"] = len(tokens)
    return Corpus(Dataset.from_dict({"tokens": tokens, "line": lines}), record)
