"""Token and label vocabularies, built from the training split and saved as JSON with a run."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seqtasks.core.checkpoint import write_json
from seqtasks.core.errors import UnknownLabelError
from seqtasks.data.text import TOKENIZERS, tokenize

PAD, UNK = "<pad>", "<unk>"


@dataclass
class Vocab:
    """tokens[0] is <pad> (id 0, which the encoder treats as padding), tokens[1] is <unk>."""

    tokens: list[str]
    lowercase: bool = True
    tokenizer: str = "whitespace"  # how raw text is split: "whitespace" (pre-tokenised data) or "words"
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tokens[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary must start with {PAD!r}, {UNK!r}; found {self.tokens[:2]}")
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {self.tokenizer!r}; expected whitespace or words")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_freq: int = 1, lowercase: bool = True,
              tokenizer: str = "whitespace") -> Vocab:
        counts = Counter(t.lower() if lowercase else t for sentence in sentences for t in sentence)
        return cls.from_counts(counts, min_freq, lowercase, tokenizer)

    @classmethod
    def from_counts(cls, counts: Counter, min_freq: int = 1, lowercase: bool = True,
                    tokenizer: str = "whitespace") -> Vocab:
        """Most frequent first, ties in code-point order, so the same counts always give the same ids."""
        kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        return cls([PAD, UNK, *kept], lowercase=lowercase, tokenizer=tokenizer)

    def extend(self, words: Iterable[str]) -> Vocab:
        """The same vocabulary with `words` appended (those it lacks), ids of existing tokens unchanged."""
        fold = str.lower if self.lowercase else str
        new = dict.fromkeys(w for w in map(fold, words) if w not in self.index)
        return Vocab([*self.tokens, *new], lowercase=self.lowercase, tokenizer=self.tokenizer)

    def __len__(self) -> int:
        return len(self.tokens)

    def tokenize(self, text: str) -> list[str]:
        """Raw text -> tokens, split the way the training data was (see `tokenizer`)."""
        return tokenize(text, self.tokenizer)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """A case-sensitive vocabulary falls back to the lowercase form before <unk>: an unseen
        "Boston" at least gets the row of "boston" (as GloVe, which is lowercase, would)."""
        get, unk = self.index.get, 1
        if self.lowercase:
            return [get(t.lower(), unk) for t in tokens]
        return [i if (i := get(t)) is not None else get(t.lower(), unk) for t in tokens]

    def save(self, path: Path) -> None:
        write_json(path, {"lowercase": self.lowercase, "tokenizer": self.tokenizer, "tokens": self.tokens})

    @classmethod
    def load(cls, path: Path) -> Vocab:
        data = json.loads(Path(path).read_text())
        return cls(data["tokens"], lowercase=data["lowercase"], tokenizer=data.get("tokenizer", "whitespace"))


@dataclass
class LabelSet:
    labels: list[str]

    def __post_init__(self) -> None:
        self.index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def build(cls, labels: Iterable[str]) -> LabelSet:
        return cls(sorted(set(labels)))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, labels: Sequence[str], where: str = "data", lines: Sequence[int] | None = None) -> list[int]:
        """Label ids; labels outside the set are an error naming them and the first line holding one."""
        unknown = sorted(set(labels) - self.index.keys())
        if unknown:
            row = next(i for i, label in enumerate(labels) if label not in self.index)
            line = lines[row] if lines is not None else row + 1
            raise UnknownLabelError(
                f"{where}:{line}: labels {unknown} are not in the trained label set {self.labels}"
            )
        return [self.index[label] for label in labels]

    def save(self, path: Path) -> None:
        write_json(path, {"labels": self.labels})

    @classmethod
    def load(cls, path: Path) -> LabelSet:
        return cls(json.loads(Path(path).read_text())["labels"])
