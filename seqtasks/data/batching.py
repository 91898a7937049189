"""Numericalize once, then batch by index arithmetic.

A split becomes one flat id tensor plus offsets (the Arrow list layout), so building a
padded batch is a gather, not a Python loop over tokens, and nothing is re-tokenized per
epoch. Length-bucketed batches keep padding small; the encoder packs them anyway.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import torch
from datasets import Dataset

from seqtasks.core.errors import DataFormatError
from seqtasks.data.arrow_tokens import flat_tokens, number_forms, token_ids, token_lists
from seqtasks.data.chars import WordChars, chars_for, spell
from seqtasks.data.vocab import Vocab


@dataclass
class Batch:
    token_ids: torch.Tensor  # [B, T], 0 = padding
    lengths: torch.Tensor  # [B]
    labels: torch.Tensor | None  # [B]
    index: torch.Tensor  # [B] rows of the split, to map predictions back
    chars: WordChars | None = None  # spellings, for encoders with character features
    task: str = ""  # a multi-task run: the task whose head this batch trains

    def to(self, device: torch.device | str) -> Batch:
        """The batch on `device`, except `lengths`: pack_padded_sequence wants them on the CPU, and
        checking them there costs no wait for the GPU (a .min() of a GPU tensor stalls the pipeline).
        The copies come from ordinary memory: a small one is staged at once without waiting for the GPU,
        and pinning each batch first cost more (an H100: 210-245 against 140-160 us per ud-pos batch)."""
        if str(device) == "cpu":
            return self
        chars = None if self.chars is None else self.chars.to(device)
        labels = None if self.labels is None else self.labels.to(device, non_blocking=True)
        return Batch(self.token_ids.to(device, non_blocking=True), self.lengths, labels, self.index, chars, self.task)


IGNORE = -100  # label id at padding positions of token-level labels (cross-entropy's ignore_index)


@dataclass
class EncodedSplit:
    flat_ids: torch.Tensor  # [total tokens]
    offsets: torch.Tensor  # [N + 1]
    labels: torch.Tensor | None  # [N], or [total tokens] when token_labels (tagging)
    token_labels: bool = False
    forms: torch.Tensor | None = None  # [total tokens] form ids into `spellings` (character features only)
    spellings: torch.Tensor | None = None  # [distinct forms, MAX_BYTES]

    @property
    def lengths(self) -> torch.Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def batch(self, index: torch.Tensor) -> Batch:
        starts = self.offsets[index]
        lengths = self.offsets[index + 1] - starts
        width = int(lengths.max())
        steps = torch.arange(width)
        positions = starts[:, None] + steps[None, :]
        real = steps[None, :] < lengths[:, None]
        positions = positions.clamp(max=len(self.flat_ids) - 1)
        token_ids = self.flat_ids[positions] * real
        if self.labels is None:
            labels = None
        elif self.token_labels:
            labels = self.labels[positions].masked_fill(~real, IGNORE)  # [B, T]
        else:
            labels = self.labels[index]
        chars = None
        if self.forms is not None:  # padding repeats the row's first form, so it adds no distinct forms
            forms = self.forms[positions]
            chars = chars_for(torch.where(real, forms, forms[:, :1]), self.spellings)
        return Batch(token_ids, lengths, labels, index, chars)


@dataclass
class EncodedPairs:
    """Sentence pairs: both sides encoded as one split of 2N rows (every first sentence, then every
    second one), so a batch of pairs is one encoder call over 2B rows, a's above b's."""

    sides: EncodedSplit
    labels: torch.Tensor | None  # [N]: label ids, or float scores in [0, 1]

    def __len__(self) -> int:
        return len(self.sides) // 2

    @property
    def flat_ids(self) -> torch.Tensor:
        """Every token id of both sides."""
        return self.sides.flat_ids

    @property
    def lengths(self) -> torch.Tensor:
        """The longer side of each pair: what a batch's padded width depends on."""
        n = len(self)
        return torch.maximum(self.sides.lengths[:n], self.sides.lengths[n:])

    def batch(self, index: torch.Tensor) -> Batch:
        batch = self.sides.batch(torch.cat([index, index + len(self)]))
        batch.index = index
        batch.labels = None if self.labels is None else self.labels[index]
        return batch


PYTHON_LOOKUP_TOKENS = 20_000  # below this many tokens, dict lookups (Vocab.encode) beat Arrow's index_in


def encode_pairs(dataset: Dataset, vocab: Vocab, source: str, max_tokens: int, chars: bool) -> EncodedPairs:
    """Rows with `tokens` and `tokens_b` -> both sides as one split of 2N rows; gold is the task's to add."""
    both = pa.concat_arrays([token_lists(dataset, "tokens"), token_lists(dataset, "tokens_b")])
    lines = lambda: list(dataset["line"]) * 2
    return EncodedPairs(encode_lists(both, lines, vocab, source, max_tokens, chars), None)


def encode_split(dataset: Dataset, vocab: Vocab, source: str = "data", max_tokens: int = 0,
                 chars: bool = False) -> EncodedSplit:
    """The `tokens` column -> ids once; `chars` also numbers the word forms and spells each once.
    Gold values are the task's to add (seqtasks/tasks)."""
    return encode_lists(token_lists(dataset), lambda: list(dataset["line"]), vocab, source, max_tokens, chars)


def encode_lists(lists: pa.ListArray, lines: Callable[[], list[int]], vocab: Vocab, source: str, max_tokens: int,
                 chars: bool) -> EncodedSplit:
    """Token lists -> flat ids + offsets, in Arrow's kernels (seqtasks/data/arrow_tokens.py). `lines`
    gives each row's source line, asked for only to name a bad row."""
    tokens, offsets = flat_tokens(lists)
    if len(tokens) <= PYTHON_LOOKUP_TOKENS:  # Arrow hashes the whole vocabulary per call: ~20 ms at 100k words
        flat_ids = torch.tensor(vocab.encode(tokens.to_pylist()), dtype=torch.long)
    else:
        flat_ids = torch.from_numpy(token_ids(tokens, vocab.tokens, vocab.lowercase))
    offsets = torch.from_numpy(offsets)
    check_lengths(offsets[1:] - offsets[:-1], lines, source, max_tokens)
    forms = spellings = None
    if chars:
        flat_forms, distinct = number_forms(tokens)
        forms, spellings = torch.from_numpy(flat_forms), spell(distinct)
    return EncodedSplit(flat_ids, offsets, None, False, forms, spellings)


def check_lengths(lengths: torch.Tensor, lines: Callable[[], list[int]], source: str, max_tokens: int) -> None:
    bad = (lengths == 0) | ((lengths > max_tokens) if max_tokens else torch.zeros_like(lengths, dtype=torch.bool))
    if bad.any():
        row = int(bad.nonzero()[0])
        line = lines()[row]
        found = int(lengths[row])
        what = "an empty sequence" if found == 0 else f"{found} tokens, more than data.max_tokens={max_tokens}"
        raise DataFormatError(source, line, what)


def bucketed_batches(
    lengths: torch.Tensor, batch_size: int, generator: torch.Generator | None = None, pool_batches: int = 200
) -> list[torch.Tensor]:
    """Row indices grouped into batches of similar length.

    Without a generator (evaluation) rows are sorted by length. With one (training) rows are
    shuffled, sorted by length within pools of `pool_batches` batches, and the batches are
    shuffled, so batches stay random while padding stays small.
    """
    if generator is None:
        return list(torch.argsort(lengths, stable=True).split(batch_size))
    order = torch.randperm(len(lengths), generator=generator)
    batches = []
    for pool in order.split(batch_size * pool_batches):
        pool = pool[torch.argsort(lengths[pool], stable=True)]
        batches.extend(pool.split(batch_size))
    shuffled = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in shuffled]


def padding_waste(lengths: torch.Tensor, batches: Sequence[torch.Tensor]) -> float:
    """Share of computed positions (B x T_max per batch) that are padding."""
    computed = sum(len(b) * int(lengths[b].max()) for b in batches)
    return 1.0 - float(lengths.sum()) / computed


def pad_batch(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Lists of ids -> token_ids [B, T] (0-padded), lengths [B]."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    token_ids = torch.zeros(len(rows), int(lengths.max()) if len(rows) else 0, dtype=torch.long)
    for i, row in enumerate(rows):
        token_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return token_ids, lengths
