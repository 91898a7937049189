"""The shared LSTM encoder: one contract every head and user relies on.

`LSTMEncoder(token_ids [B, T], lengths [B])` returns an `EncoderOutput`:
every top-layer h_t (`states`, zeros at padding), each row's own h_T (`final`) and the
`mask`. Batches are packed, so padding never enters the recurrence: extra padding
changes nothing and h_T is never a padded step. With `char_features` > 0 each position's input is
its word embedding concatenated with a character CNN over its spelling (`chars`, a `WordChars`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from seqtasks.core.config import EncoderConfig
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import pad_batch
from seqtasks.data.chars import WordChars, chars_of
from seqtasks.data.vocab import Vocab
from seqtasks.model.cells import CELLS, build_cell
from seqtasks.model.chars import CharCNN
from seqtasks.model.packing import pack, unpack


class EncoderOutput:
    """`states` [B, T, D]: every h_t of the top layer, zeros at padding. `final` [B, D]: h_T at each
    row's own length (bidirectional: [forward at the last step ; backward at the first]). `mask`
    [B, T]: True at real tokens.

    `states` and `mask` may be given as functions that make them: they run when first read, once.
    A head that reads only h_T then never unpacks the states, and a tagger without a CRF never builds
    the mask; at batch 32 on a GPU a step is bound by kernel launches, and those are a dozen of them.
    """

    def __init__(self, states: torch.Tensor | Callable[[], torch.Tensor], final: torch.Tensor,
                 mask: torch.Tensor | Callable[[], torch.Tensor]) -> None:
        self._states, self.final, self._mask = states, final, mask

    @property
    def states(self) -> torch.Tensor:
        if callable(self._states):
            self._states = self._states()
        return self._states

    @property
    def mask(self) -> torch.Tensor:
        if callable(self._mask):
            self._mask = self._mask()
        return self._mask


def lengths_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B] lengths -> [B, T] bool mask, True at real tokens."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class LSTMEncoder(nn.Module):
    """Embedding + (packed) LSTM. `cell="lstm"` is `nn.LSTM`; other names come from `seqtasks.model.cells.CELLS`.

    `forget_bias` (e.g. 1.0) starts every forget gate open, so early gradients pass through time;
    None keeps PyTorch's default initialisation.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 100,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        cell: str = "lstm",
        forget_bias: float | None = None,
        word_dropout: float = 0.0,
        char_features: int = 0,
        vocab: Vocab | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"unknown cell {cell!r}; valid cells: {', '.join(sorted(CELLS))}")
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.embedding_dropout = nn.Dropout(dropout)
        self.chars = CharCNN(char_features) if char_features else None
        self.rnn = build_cell(
            cell,
            embedding_dim + char_features,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        if forget_bias is not None:
            self.rnn.init_forget_bias(forget_bias)
        self.cell = cell
        self.word_dropout = word_dropout
        self.num_directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.num_directions
        self.vocab = vocab  # the words token ids stand for, which encode() needs to read raw text

    def forward(
        self, token_ids: torch.Tensor, lengths: torch.Tensor, chars: WordChars | None = None
    ) -> EncoderOutput:
        """token_ids [B, T] (0 = padding), lengths [B] (each >= 1, <= T); chars when char_features > 0."""
        batch, max_len = token_ids.shape
        if lengths.numel() != batch:
            raise ValueError(f"lengths has {lengths.numel()} entries for a batch of {batch} rows")
        if batch and int(lengths.min()) < 1:
            raise ValueError(f"empty sequence in batch (row {int(lengths.argmin())} has length 0)")
        if batch and int(lengths.max()) > max_len:
            raise ValueError(f"a length of {int(lengths.max())} exceeds the padded width {max_len}")
        embedded = self.embedding(self.drop_words(token_ids))
        if self.chars is not None:
            if chars is None:
                raise ValueError("this encoder has character features: pass chars (a seqtasks.data.chars.WordChars)")
            embedded = torch.cat([embedded, self.chars(chars)], dim=-1)
        embedded = self.embedding_dropout(embedded)
        packed_states, (h_n, _) = self.rnn(pack(embedded, lengths))
        states = lambda: unpack(packed_states, max_len)
        mask = lambda: lengths_mask(lengths.to(token_ids.device, non_blocking=True), max_len)
        # h_n: [layers * directions, B, H]; the top layer's directions are the last rows.
        final = torch.cat(list(h_n[-self.num_directions :]), dim=-1)
        if torch.jit.is_tracing():  # ONNX export: the same h_T read off the states, see final_states
            states = states()
            final = self.final_states(states, lengths)
        return EncoderOutput(states, final, mask)

    def final_states(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """h_T from the padded states: the forward half at each row's last step, the backward half at its
        first. Equal to h_n's top layer; torch's ONNX exporter crashes on a graph where the padded
        states go unused (a pooling that reads only h_T), so the traced graph takes this path."""
        last = (lengths.to(states.device) - 1).view(-1, 1, 1).expand(-1, 1, states.shape[-1])
        forward = states.gather(1, last).squeeze(1)
        if self.num_directions == 1:
            return forward
        hidden = states.shape[-1] // 2
        return torch.cat([forward[:, :hidden], states[:, 0, hidden:]], dim=-1)

    def drop_words(self, token_ids: torch.Tensor) -> torch.Tensor:
        """In training, replace each real token by <unk> (id 1) with probability word_dropout, so the
        model learns what to do with words it has never seen."""
        if not (self.training and self.word_dropout):
            return token_ids
        dropped = (torch.rand(token_ids.shape, device=token_ids.device) < self.word_dropout) & (token_ids > 0)
        return token_ids.masked_fill(dropped, 1)

    def encode(self, texts: Sequence[str]) -> EncoderOutput:
        """Encode raw text with the vocabulary this encoder was trained with."""
        if self.vocab is None:
            raise RuntimeError("this encoder has no vocabulary: build it with vocab=, or load it with "
                               "LSTMEncoder.from_pretrained(RUN)")
        tokens = [self.vocab.tokenize(text) for text in texts]
        for row, text in zip(tokens, texts):
            if not row:
                raise ValueError(f"cannot encode an empty text: {text!r}")
        token_ids, lengths = pad_batch([self.vocab.encode(row) for row in tokens])
        device = self.embedding.weight.device
        chars = chars_of(tokens, token_ids.shape[1]).to(device) if self.chars is not None else None
        return self(token_ids.to(device), lengths, chars)  # lengths stay on the CPU, as Batch.to keeps them

    @classmethod
    def from_config(cls, config: EncoderConfig, vocab_size: int, vocab: Vocab | None = None) -> LSTMEncoder:
        return cls(vocab_size, config.embedding_dim, config.hidden_size, num_layers=config.num_layers,
                   bidirectional=config.bidirectional, dropout=config.dropout, cell=config.cell,
                   forget_bias=config.forget_bias, word_dropout=config.word_dropout,
                   char_features=config.char_features if config.chars else 0, vocab=vocab)

    # How a run folder is read is the engine's (seqtasks/engine/run.py, which sets this when imported):
    # the model layer never reads a run folder itself.
    folder_loader: ClassVar[Callable[[Path, str], LSTMEncoder] | None] = None

    @classmethod
    def from_pretrained(cls, run_dir: str | Path, map_location: str = "cpu") -> LSTMEncoder:
        """The trained encoder of a run folder (its best weights), with its vocabulary, in eval mode."""
        if cls.folder_loader is None:
            raise RuntimeError("run folders are read by seqtasks.engine.run: import seqtasks (or "
                               "`from seqtasks import LSTMEncoder`) before calling from_pretrained")
        return cls.folder_loader(Path(run_dir), map_location)
