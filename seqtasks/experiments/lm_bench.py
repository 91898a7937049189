"""`seqtasks bench --lm`: language-model training tokens/s of the toolkit against the loop a person would
write by hand (embedding -> packed bidirectional nn.LSTM -> the forward states predict the next token,
the backward states the previous one, through the same AdaptiveLogSoftmaxWithLoss), on the same batches
with the same optimizer, alternating which goes first, median of the rounds; and the adaptive softmax's share of a step
(the hand-written step with and without it)."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from heads.language_model import cutoffs_for
from seqtasks.core.config import RunConfig, apply_overrides
from seqtasks.engine.prepare import Member, prepare_data
from seqtasks.engine.training import make_optimizer, train_epoch
from seqtasks.model.encoder import lengths_mask
from seqtasks.tasks import build_model

SHAPE = ["task=language-model", "data.dataset=sst2", "data.train=train", "data.dev=dev", "encoder.vectors=",
         "encoder.vectors_vocab=0", "encoder.chars=false", "encoder.dropout=0.2", "head.dropout=0.2",
         "train.batch_size=32", "head.tie_embedding=false"]  # the loop has its own output layer


class RawLM(nn.Module):
    def __init__(self, vocab_size: int, embedding_dim: int, hidden: int, classes: int, dropout: float) -> None:
        super().__init__()
        self.classes, self.hidden = classes, hidden
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(hidden, classes, cutoffs_for(classes), div_value=4.0)

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor, with_softmax: bool = True) -> torch.Tensor:
        x = self.dropout(self.embedding(token_ids))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=token_ids.shape[1])
        mask = lengths_mask(lengths, token_ids.shape[1])
        both = mask[:, 1:] & mask[:, :-1]
        targets = torch.where(token_ids < self.classes, token_ids, torch.ones_like(token_ids))
        forward, backward = states[:, :-1, : self.hidden][both], states[:, 1:, self.hidden :][both]
        if not with_softmax:
            return forward.sum() + backward.sum()
        return (self.softmax(self.dropout(forward), targets[:, 1:][both]).loss
                + self.softmax(self.dropout(backward), targets[:, :-1][both]).loss) / 2


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run_lm_bench(config: RunConfig, overrides: list[str], steps: int = 40, rounds: int = 9,
                 log: Callable[[str], None] = print) -> dict:
    config = apply_overrides(config, [*SHAPE, *overrides])
    prepared = prepare_data([Member("", config)], config.encoder)
    (member,), vocab = prepared.members, prepared.vocab
    split, classes = member.train, len(member.labels)
    torch.manual_seed(config.train.seed)
    model = build_model(config, len(vocab), member.labels.labels)
    raw = RawLM(len(vocab), config.encoder.embedding_dim, config.encoder.hidden_size, classes, config.encoder.dropout)
    optimizer, raw_optimizer = make_optimizer(model, config.train), make_optimizer(raw, config.train)
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(0))
    batches = list(order.split(config.train.batch_size))
    needed = steps * (rounds + 1)
    batches = (batches * (needed // len(batches) + 1))[:needed]
    chunks = [batches[i * steps : (i + 1) * steps] for i in range(rounds + 1)]

    def raw_steps(chunk, with_softmax=True):
        raw.train()
        for index in chunk:
            batch = split.batch(index)
            loss = raw(batch.token_ids, batch.lengths, with_softmax)
            raw_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(raw.parameters(), config.train.clip_norm)
            raw_optimizer.step()

    ratios, toolkit_rates, raw_rates, shares = [], [], [], []
    for number, chunk in enumerate(chunks):
        tokens = int(sum(int(split.lengths[b].sum()) for b in chunk))
        toolkit = lambda chunk=chunk: train_epoch(model, optimizer, split, chunk, config.train, "cpu", "bench")
        hand_written = lambda chunk=chunk: raw_steps(chunk)
        if number % 2:  # alternate which loop goes first, so neither always runs on the other's warm caches
            raw_s, toolkit_s = timed(hand_written), timed(toolkit)
        else:
            toolkit_s, raw_s = timed(toolkit), timed(hand_written)
        bare_s = timed(lambda chunk=chunk: raw_steps(chunk, with_softmax=False))
        if number:  # the first round warms up
            ratios.append(raw_s / toolkit_s)
            toolkit_rates.append(tokens / toolkit_s)
            raw_rates.append(tokens / raw_s)
            shares.append(1 - bare_s / raw_s)
        log(f"  round {number}: toolkit {tokens / toolkit_s:,.0f} tokens/s, hand-written {tokens / raw_s:,.0f}")
    return {"recipe": config.recipe, "output_words": classes, "vocabulary": len(vocab),
            "hidden_size": config.encoder.hidden_size, "steps_per_round": steps, "rounds": rounds,
            "toolkit_tokens_per_s": statistics.median(toolkit_rates), "raw_tokens_per_s": statistics.median(raw_rates),
            "ratio": {"min": min(ratios), "median": statistics.median(ratios), "max": max(ratios)},
            "softmax_share_of_step": statistics.median(shares)}


def lm_table(result: dict) -> str:
    ratio = result["ratio"]
    return "\n".join([
        (f"seqtasks bench --lm: {result['output_words']:,} output words, hidden {result['hidden_size']}, "
        f"{result['rounds']} rounds of {result['steps_per_round']} steps"),
        (f"toolkit {result['toolkit_tokens_per_s']:,.0f} tokens/s, hand-written loop {result['raw_tokens_per_s']:,.0f}: "
        f"ratio {ratio['median']:.3f} (min {ratio['min']:.3f}, max {ratio['max']:.3f}; > 1: the toolkit is faster)"),
        f"the adaptive softmax is {result['softmax_share_of_step']:.0%} of a hand-written step",
    ])
