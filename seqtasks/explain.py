"""Where attention pooling looked: per-token weights of one text, and a page of the worst examples.

Only runs with `head.pooling=attention` have weights to show; with several heads the weights
shown are their mean (each head's row is in the JSON/PNG).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import Dataset

from seqtasks.config import ConfigError
from seqtasks.data.batching import bucketed_batches
from seqtasks.plots import pyplot, save_figure
from seqtasks.run import LoadedRun


class NoAttentionError(ConfigError):
    """A run without attention pooling has no weights to show."""


@dataclass
class Explanation:
    tokens: list[str]
    weights: torch.Tensor  # [heads, T]
    prediction: str = ""


def require_attention(run: LoadedRun) -> None:
    if run.config.head.pooling != "attention":
        raise NoAttentionError(f"{run.run_dir} pools with {run.config.head.pooling!r}: only a run trained with "
                               f"--set head.pooling=attention has attention weights to show")


@torch.inference_mode()
def explain_text(run: LoadedRun, text: str) -> Explanation:
    require_attention(run)
    run.model.eval()
    tokens = run.vocab.tokenize(text)
    encoded = run.model.encoder.encode([text])
    pooled = run.model.head.pool(encoded)
    prediction = ""
    if hasattr(run.model.head, "mlp"):  # classification: the label it chose from this vector
        probabilities = run.model.head.mlp(pooled.vector).softmax(-1)[0]
        best = int(probabilities.argmax())
        prediction = f"{run.labels.labels[best]} ({float(probabilities[best]):.3f})"
    return Explanation(tokens, pooled.weights[0], prediction)


def weight_lines(explanation: Explanation, width: int = 40) -> list[str]:
    """token, weight, and a bar scaled to the largest weight."""
    mean = explanation.weights.mean(0)
    top = float(mean.max())
    size = max(len(t) for t in explanation.tokens)
    lines = [f"{token:<{size}}  {float(w):.3f}  {'#' * round(width * float(w) / top)}"
             for token, w in zip(explanation.tokens, mean)]
    return ([f"prediction: {explanation.prediction}"] if explanation.prediction else []) + lines


def heatmap(explanation: Explanation, path: Path) -> None:
    plt = pyplot()
    weights = explanation.weights.float().numpy()
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(explanation.tokens)), 1 + 0.4 * len(weights)))
    ax.imshow(weights, cmap="Reds", aspect="auto", vmin=0)
    ax.set_xticks(range(len(explanation.tokens)), explanation.tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(weights)), [f"head {h + 1}" for h in range(len(weights))])
    ax.set_title(explanation.prediction or "attention weights")
    save_figure(fig, path)


@torch.inference_mode()
def worst_examples(run: LoadedRun, rows: Dataset, split, count: int, batch_size: int = 256) -> list[dict]:
    """The `count` examples with the largest loss, with their tokens and attention weights."""
    require_attention(run)
    model, head = run.model.eval(), run.model.head
    found = []
    for index in bucketed_batches(split.lengths, batch_size):
        batch = split.batch(index)
        out = model(batch)
        losses = example_losses(head, out.logits, batch.labels)
        weights = out.attention.mean(1)  # [B (or 2B for pairs), T]
        for position, row in enumerate(index.tolist()):
            sides = [weights[position]] + ([weights[position + len(index)]] if "tokens_b" in rows.column_names else [])
            gold, predicted = shown_labels(head, run.labels.labels, out.logits[position], batch.labels[position])
            found.append({"row": row, "loss": float(losses[position]), "weights": sides, "gold": gold,
                          "predicted": predicted})
    found.sort(key=lambda example: -example["loss"])
    return found[:count]


def shown_labels(head, labels: list[str], logits: torch.Tensor, gold: torch.Tensor) -> tuple[str, str]:
    """(gold, predicted) as a person reads them: label names, or scores on the [0, 1] scale."""
    if logits.dim() == 1:  # classification
        return labels[int(gold)], labels[int(logits.argmax())]
    if getattr(head, "binary", False):
        return labels[int(gold)], labels[int(logits > 0)]
    return f"{float(gold):.2f}", f"{float(head.score(logits)):.2f}"


def example_losses(head, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    functional = torch.nn.functional
    if logits.dim() == 2:  # classification
        return functional.cross_entropy(logits, labels, reduction="none")
    if getattr(head, "binary", False):
        return functional.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    return (logits - head.target(labels)) ** 2


def write_html(run: LoadedRun, rows: Dataset, examples: list[dict], path: Path) -> None:
    """One block per example, tokens shaded by attention weight (scaled to the example's largest)."""
    columns = ["tokens", "tokens_b"] if "tokens_b" in rows.column_names else ["tokens"]
    blocks = []
    for example in examples:
        row = rows[example["row"]]
        sentences = []
        for column, weights in zip(columns, example["weights"]):
            tokens = row[column]
            top = float(weights[: len(tokens)].max())
            spans = " ".join(f'<span style="background: rgba(220,40,40,{float(w) / top:.2f})" '
                             f'title="{float(w):.3f}">{html.escape(t)}</span>' for t, w in zip(tokens, weights))
            sentences.append(f"<p>{spans}</p>")
        blocks.append(f"<div class='ex'><b>line {row.get('line', example['row'] + 1)}</b> gold "
                      f"{html.escape(example['gold'])} · predicted {html.escape(example['predicted'])} · "
                      f"loss {example['loss']:.3f}{''.join(sentences)}</div>")
    page = (f"<!doctype html><meta charset='utf-8'><title>{html.escape(str(run.run_dir))}: largest losses</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
            ".ex{border-bottom:1px solid #ddd;padding:.5em 0}span{padding:1px 2px;border-radius:3px}</style>"
            f"<h1>{len(examples)} examples with the largest loss</h1>" + "".join(blocks))
    from seqtasks.checkpoint import atomic_write

    atomic_write(Path(path), lambda temp: Path(temp).write_text(page, encoding="utf-8"))
