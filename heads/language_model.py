"""The encoder's own language model (ELMo's biLM): the forward direction's h_t predicts token t+1, the
backward direction's h_t predicts token t-1, so the weights it trains are exactly the encoder a
classifier or tagger later starts from (encoder.init).

The forward half of h_t has read tokens 1..t and the backward half tokens t..T, so neither sees the
token it predicts. That holds for one bidirectional nn.LSTM layer; from the second layer on, nn.LSTM
feeds both directions' outputs into each direction, so more layers need `encoder.cell=separate_stacks`
(a forward and a backward stack, as ELMo has) and the task refuses them otherwise.

Output words are the run's most frequent training words (the first `labels` ids of the vocabulary,
which is ordered by frequency); rarer ones are predicted as <unk>. One adaptive softmax (Grave et al.
2017, torch's AdaptiveLogSoftmaxWithLoss) serves both directions: the frequent words get a full-width
output, rarer clusters narrower ones, so a 30k-word output costs a fraction of a full softmax.
`tie_embedding` makes the frequent words' output rows the input embedding's (Press & Wolf 2017), which
needs states as wide as the embedding; the rarer clusters' outputs are narrower and stay their own.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from heads.output import HeadOutput
from seqtasks.core.config import HeadConfig
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import Batch
from seqtasks.model.encoder import EncoderOutput

CUTOFFS = (2000, 10000)  # the adaptive softmax's clusters: the 2k most frequent words, the next 8k, the rest


def cutoffs_for(classes: int) -> list[int]:
    return [c for c in CUTOFFS if c < classes - 1] or [max(1, classes // 2)]


class TiedShortlist(nn.Module):
    """The adaptive softmax's first layer with the frequent words' rows read from the input embedding;
    only the rows that score the rarer clusters are its own. The embedding is held outside the module
    tree, so its weight is saved once, as the encoder's."""

    def __init__(self, embedding: nn.Embedding, shortlist: int, cluster_rows: torch.Tensor) -> None:
        super().__init__()
        self.shortlist = shortlist
        self.clusters = nn.Parameter(cluster_rows.detach().clone())
        self.embedding = [embedding]  # a list: not a submodule

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        weight = torch.cat([self.embedding[0].weight[: self.shortlist], self.clusters])
        return functional.linear(states, weight)


class LanguageModelHead(nn.Module):
    OPTIONS = ("dropout", "tie_embedding")

    def __init__(self, input_size: int, labels: list[str], config: HeadConfig, directions: int = 2) -> None:
        super().__init__()
        self.directions, self.hidden, self.classes = directions, input_size // directions, len(labels)
        self.dropout = nn.Dropout(config.dropout)
        cutoffs = cutoffs_for(self.classes)
        # each rarer cluster's states are 4x narrower; below 16 units a direction that would leave the rarest
        # cluster 0 wide (its words all scored alike), so tiny models keep every cluster full width
        div_value = 4.0 if self.hidden >= 4 ** len(cutoffs) else 1.0
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(self.hidden, self.classes, cutoffs, div_value=div_value)

    def tie(self, embedding: nn.Embedding) -> None:
        """The frequent words' output rows become the embedding's rows for the same ids."""
        if embedding.embedding_dim != self.hidden:
            raise ConfigError(f"head.tie_embedding: the states ({self.hidden} a direction) must be as wide as the "
                              f"embedding ({embedding.embedding_dim}); set encoder.hidden_size={embedding.embedding_dim}")
        shortlist = self.softmax.shortlist_size
        self.softmax.head = TiedShortlist(embedding, shortlist, self.softmax.head.weight[shortlist:])

    def targets(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Vocabulary ids -> output classes: the frequent words keep their id, the rest are <unk> (1)."""
        return torch.where(token_ids < self.classes, token_ids, torch.ones_like(token_ids))

    def predicted(self, encoded: EncoderOutput, batch: Batch) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per direction: (the states that predict [N, H], their target classes [N], their rows [N]) over
        every position that has a neighbour to predict."""
        states, mask = encoded.states, encoded.mask
        targets = self.targets(batch.token_ids)
        rows = torch.arange(len(states), device=states.device)[:, None].expand_as(batch.token_ids)
        both = mask[:, 1:] & mask[:, :-1]
        sides = [(states[:, :-1, : self.hidden][both], targets[:, 1:][both], rows[:, 1:][both])]
        if self.directions == 2:
            sides.append((states[:, 1:, self.hidden :][both], targets[:, :-1][both], rows[:, 1:][both]))
        return sides

    def loss_terms(self, lengths: torch.Tensor) -> torch.Tensor:
        """The tokens each row's loss averages over (each direction predicts all but one), which
        weigh the ranks' losses under DDP (seqtasks/engine/distributed.py, Runtime.share)."""
        return (lengths - 1).clamp(min=0)

    def forward(self, encoded: EncoderOutput, batch: Batch) -> HeadOutput:
        """value [B, directions]: each row's summed log-probability of the tokens it predicts; the loss is
        the mean negative log-likelihood over both directions' predicted tokens."""
        sums, losses = [], []
        for states, targets, rows in self.predicted(encoded, batch):
            if len(targets) == 0:  # every row one token long (UD-EWT has whole batches of them)
                sums.append(states.new_zeros(len(batch.token_ids)))
                # a zero tied to the head too: with the encoder frozen (encoder.freeze_epochs) the states
                # carry no gradient, and a loss without one cannot be stepped
                losses.append(states.sum() * 0 + sum(p.sum() for p in self.softmax.parameters()) * 0)
                continue
            out = self.softmax(self.dropout(states), targets)
            sums.append(torch.zeros(len(batch.token_ids), device=states.device).index_add(0, rows, out.output.float()))
            losses.append(out.loss)
        return HeadOutput(value=torch.stack(sums, dim=-1), loss=torch.stack(losses).mean())
