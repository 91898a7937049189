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

from seqtasks.core.checkpoint import atomic_write
from seqtasks.core.errors import ConfigError
from seqtasks.core.plots import pyplot, save_figure
from seqtasks.engine.run import LoadedRun
from seqtasks.tasks.inference import run_batches
from seqtasks.tools.predict import predict_lines


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
    weights = run.model.head.pool(run.model.encoder.encode([text])).weights[0]
    prediction = "" if run.task.pair else run.task.headline(next(predict_lines(run, [text])))
    return Explanation(tokens, weights, prediction)


def weight_lines(explanation: Explanation, width: int = 40) -> list[str]:
    """token, weight, and a bar scaled to the largest weight."""
    mean = explanation.weights.mean(0)
    top = float(mean.max())
    size = max(len(t) for t in explanation.tokens)
    lines = [f"{token:<{size}}  {float(w):.3f}  {'#' * round(width * float(w) / top)}"
             for token, w in zip(explanation.tokens, mean)]
    return ([f"prediction: {explanation.prediction}"] if explanation.prediction else []) + lines


def heatmap(explanation: Explanation, path: Path, line_chars: int = 60) -> None:
    """The sentence as text, each word shaded by its weight (one block per head), wrapped at
    `line_chars` characters: words stay horizontal and legible at any sentence length."""
    plt = pyplot()
    weights = explanation.weights.float()
    top = float(weights.max())
    layout, x, line = [], 0, 0  # (token index, x in characters, line)
    for i, token in enumerate(explanation.tokens):
        if x and x + len(token) > line_chars:
            x, line = 0, line + 1
        layout.append((i, x, line))
        x += len(token) + 1
    lines = line + 1
    blocks = len(weights)
    height = 0.7 + blocks * (0.45 * lines + 0.2)
    width = 0.6 + 0.095 * min(line_chars, max(x for _, x, _ in layout) + len(explanation.tokens[-1]) + 1)
    fig = plt.figure(figsize=(max(width, 4.0), height))
    cmap = plt.get_cmap("Reds")
    for head in range(blocks):
        top_line = head * (lines + 1)
        if blocks > 1:
            fig.text(0.1 / width, 1 - (0.55 + (top_line + 0.5) * 0.45) / height, f"head {head + 1}", fontsize=9,
                     color="grey")
            top_line += 1
        for i, x_chars, row in layout:
            value = float(weights[head, i]) / top
            fig.text((0.3 + 0.095 * x_chars) / width, 1 - (0.6 + (top_line + row) * 0.45) / height,
                     explanation.tokens[i], family="monospace", fontsize=11, va="top",
                     color="white" if value > 0.6 else "black",
                     bbox={"facecolor": cmap(0.85 * value), "edgecolor": "none", "pad": 2})
    fig.text(0.3 / width, 1 - 0.25 / height, explanation.prediction or "attention weights", fontsize=11,
             va="top", weight="bold")
    save_figure(fig, path)


def worst_examples(run: LoadedRun, rows: Dataset, split, count: int, batch_size: int = 256) -> list[dict]:
    """The `count` examples with the largest loss, with their tokens and attention weights."""
    require_attention(run)
    task, labels = run.task, run.labels.labels
    found = []
    for index, batch, _, out in run_batches(run.model, split, batch_size, with_labels=True):
        losses = task.example_losses(run.model, out, batch.labels)
        weights = out.attention.mean(1)  # [B (or 2B for pairs: every first side, then every second), T]
        for position, row in enumerate(index.tolist()):
            sides = [weights[position]] + ([weights[position + len(index)]] if task.pair else [])
            gold, predicted = task.shown(run.model, out, batch.labels, position, labels)
            found.append({"row": row, "loss": float(losses[position]), "weights": sides, "gold": gold,
                          "predicted": predicted})
    found.sort(key=lambda example: -example["loss"])
    return found[:count]


def write_html(run: LoadedRun, rows: Dataset, examples: list[dict], path: Path) -> None:
    """One block per example, tokens shaded by attention weight (scaled to the example's largest)."""
    columns = ["tokens", "tokens_b"] if run.task.pair else ["tokens"]
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
    atomic_write(Path(path), lambda temp: Path(temp).write_text(page, encoding="utf-8"))
