"""A linear-chain CRF over per-token tag scores: log-likelihood training and Viterbi decoding.

Transitions can be constrained (`allowed_transitions`): a forbidden move (O -> I-PER in BIO)
gets a score of -10000, so neither training nor decoding ever uses it. Masked steps (padding)
never contribute, and decoding returns exactly one tag per real token.
"""
from __future__ import annotations

import torch
from torch import nn

FORBIDDEN = -10000.0


def allowed_transitions(tags: list[str], scheme: str = "BIO") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(allowed [K, K] from -> to, allowed at start [K], allowed at end [K]) for BIO or BIOES tags."""
    def split(tag):
        return ("O", "") if tag == "O" else tuple(tag.split("-", 1))

    parts = [split(t) for t in tags]
    k = len(tags)
    allowed = torch.ones(k, k, dtype=torch.bool)
    start = torch.ones(k, dtype=torch.bool)
    end = torch.ones(k, dtype=torch.bool)
    for j, (to_prefix, to_type) in enumerate(parts):
        if scheme == "BIO":
            start[j] = to_prefix != "I"
        elif scheme == "BIOES":
            start[j] = to_prefix in {"O", "B", "S"}
            end[j] = to_prefix in {"O", "E", "S"}
        else:
            raise ValueError(f"unknown tag scheme {scheme!r}; schemes: BIO, BIOES")
        for i, (from_prefix, from_type) in enumerate(parts):
            if scheme == "BIO":
                ok = to_prefix != "I" or (from_prefix in {"B", "I"} and from_type == to_type)
            else:
                inside = from_prefix in {"B", "I"}
                ok = (to_prefix in {"I", "E"} and inside and from_type == to_type) or (
                    to_prefix in {"O", "B", "S"} and not inside)
            allowed[i, j] = ok
    return allowed, start, end


class CRF(nn.Module):
    def __init__(self, num_tags: int, constraints: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        allowed, start, end = constraints or (torch.ones(num_tags, num_tags, dtype=torch.bool),
                                              torch.ones(num_tags, dtype=torch.bool),
                                              torch.ones(num_tags, dtype=torch.bool))
        self.register_buffer("allowed", allowed, persistent=False)
        self.register_buffer("allowed_start", start, persistent=False)
        self.register_buffer("allowed_end", end, persistent=False)

    def _scores(self):
        return (self.transitions.masked_fill(~self.allowed, FORBIDDEN),
                self.start.masked_fill(~self.allowed_start, FORBIDDEN),
                self.end.masked_fill(~self.allowed_end, FORBIDDEN))

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score [B] of the tag paths `tags` [B, T]; emissions [B, T, K], mask [B, T] (left-aligned)."""
        transitions, start, end = self._scores()
        mask_f = mask.to(emissions.dtype)
        emitted = emissions.gather(-1, tags.unsqueeze(-1)).squeeze(-1)
        score = start[tags[:, 0]] + (emitted * mask_f).sum(1)
        score = score + (transitions[tags[:, :-1], tags[:, 1:]] * mask_f[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return score + end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z [B] by the forward algorithm."""
        transitions, start, end = self._scores()
        alpha = start + emissions[:, 0]  # [B, K]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of the gold paths."""
        return (self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The best path of each row, one tag per real token. It runs where the emissions are: scoring
        brings them to the CPU, where tracing back costs no device sync per step."""
        transitions, start, end = (scores.to(emissions.device) for scores in self._scores())
        mask = mask.to(emissions.device)
        score = start + emissions[:, 0]
        backpointers = []
        for t in range(1, emissions.shape[1]):
            best, index = (score.unsqueeze(2) + transitions).max(dim=1)
            backpointers.append(index)
            score = torch.where(mask[:, t, None], best + emissions[:, t], score)
        score = score + end
        paths = []
        for row, length in enumerate(mask.sum(1).tolist()):
            tag = int(score[row].argmax())
            path = [tag]
            for t in range(length - 1, 0, -1):
                tag = int(backpointers[t - 1][row, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths
