"""Language modelling: unlabelled text, each direction of the encoder predicting the next (forward) or
previous (backward) token. Scored by perplexity per direction on dev, which selects the best epoch
(lower is better); `predict` gives each line's perplexity, a way to spot out-of-domain input. The
trained encoder starts any other run with `--set encoder.init=RUN`."""
from __future__ import annotations

import math
from typing import ClassVar

import torch
from datasets import Dataset

from heads import LanguageModelHead
from seqtasks.core.errors import ConfigError
from seqtasks.data.arrow_tokens import count_tokens, token_lists
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.tasks.base import Task
from seqtasks.tasks.inference import gather_rows


class LanguageModeling(Task):
    name = "language-model"
    description = "unlabelled text: a bidirectional LSTM language model that pretrains the encoder"
    gold = "text"  # no gold column: the text is its own target
    heads: ClassVar[dict[str, type]] = {"language-model": LanguageModelHead}
    default_head = "language-model"
    lower_is_better = True
    exportable = False
    default_space: ClassVar[tuple[str, ...]] = tuple(  # more layers need separate stacks (build_head)
        item for item in Task.default_space if not item.startswith("encoder.num_layers="))

    def build_head(self, config, input_size, labels):
        encoder = config.encoder
        if encoder.num_layers > 1 and encoder.bidirectional and encoder.cell != "separate_stacks":
            raise ConfigError(f"encoder.num_layers={encoder.num_layers} with encoder.cell={encoder.cell}: from the "
                              f"second layer on both directions read each other, so each would see the token it "
                              f"predicts; use encoder.cell=separate_stacks (a forward and a backward stack) or "
                              f"encoder.num_layers=1")
        self.head_class(config.head)
        return LanguageModelHead(input_size, labels, config.head, 2 if config.encoder.bidirectional else 1)

    def build_model(self, config, encoder, labels):
        """Tied output rows where the states are as wide as the embedding, unless head.tie_embedding says
        otherwise: at 50 units over GloVe 50d they lowered sst2 dev perplexity by a quarter
        (docs/pretraining.md)."""
        model = super().build_model(config, encoder, labels)
        tie = config.head.tie_embedding
        if tie or (tie is None and model.head.hidden == encoder.embedding.embedding_dim):
            model.head.tie(encoder.embedding)
        return model

    def label_values(self, rows: Dataset) -> list[str]:
        return []

    def label_set(self, rows: Dataset, vocab: Vocab, config) -> LabelSet:
        """The output words: the training words (the vocabulary's first ids, most frequent first), at most
        data.output_words of them, <pad> and <unk> included."""
        counts = count_tokens([token_lists(rows)], vocab.lowercase)
        trained = 2 + sum(1 for n in counts.values() if n >= config.data.min_freq)
        return LabelSet(vocab.tokens[: min(trained, config.data.output_words, len(vocab))])

    def strata(self, rows: Dataset) -> None:
        return None

    def selection_metric(self, labels: list[str]) -> str:
        return "perplexity"

    def outputs(self, model, encoded, output) -> dict[str, torch.Tensor]:
        """log_likelihood [B, directions]: each row's summed log-probability of the tokens it predicts."""
        return {"log_likelihood": output.value}

    def predictions(self, model, split) -> torch.Tensor:
        return gather_rows(model, self, split, ("log_likelihood",))["log_likelihood"]

    def metrics(self, split, predictions, labels) -> dict:
        tokens = int((split.lengths - 1).clamp(min=0).sum())
        if tokens == 0:
            raise ConfigError("every text is a single token: a language model has nothing to predict")
        totals = predictions.sum(0).tolist()
        per_direction = [math.exp(-total / tokens) for total in totals]
        metrics = {"perplexity": math.exp(-sum(totals) / (tokens * len(totals))),
                   "perplexity_forward": per_direction[0], "tokens": tokens}
        if len(per_direction) == 2:
            metrics["perplexity_backward"] = per_direction[1]
        return metrics

    def record(self, texts, tokens, predictions, row, labels) -> dict:
        predicted = len(tokens[0]) - 1
        record = {"text": texts[0], "tokens": len(tokens[0])}
        if predicted == 0:
            return {**record, "perplexity": None}
        values = predictions[row].tolist()
        record["perplexity"] = round(math.exp(-sum(values) / (predicted * len(values))), 4)
        record["perplexity_forward"] = round(math.exp(-values[0] / predicted), 4)
        if len(values) == 2:
            record["perplexity_backward"] = round(math.exp(-values[1] / predicted), 4)
        return record

    def headline(self, record: dict) -> str:
        return f"perplexity {record['perplexity']}"

    def example_losses(self, model, output, gold):
        return -output.value.sum(-1)

    def shown(self, model, output, gold, position, labels):
        return "", f"log-likelihood {float(output.value[position].sum()):.2f}"
