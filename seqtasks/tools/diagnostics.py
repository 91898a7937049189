"""Diagnostics that make the seed's claims measurable on a trained model.

Gradient flow through time (seed Q10, Q11, Q14): for every step k of real sequences, the norms
of dL/dc_k and dL/dh_k next to the product of forget gates prod_{t>k} f_t, which is exactly
dc_T/dc_k along the cell path. Gate statistics (Q5, Q7, Q17): mean and saturation of f, i, o
per layer and direction, and how they vary over relative position.

An `nn.LSTM` encoder keeps its state inside the fused kernel, so it is probed through a
reference-cell twin with the same weights (equal outputs and gradients, tested).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from seqtasks.core.checkpoint import write_json
from seqtasks.core.errors import ConfigError
from seqtasks.core.plots import pyplot, save_figure
from seqtasks.data.batching import EncodedSplit
from seqtasks.data.chars import WordChars
from seqtasks.model.cells import (
    FastLSTM,
    ReferenceLSTM,
    StackedRecurrence,
    copy_weights_from_nn_lstm,
)
from seqtasks.model.encoder import EncoderOutput, LSTMEncoder

SATURATION = (0.05, 0.95)
POSITION_BINS = 10


@dataclass
class DirectionTrace:
    """Per step k of one direction (time as that direction reads it), for a batch of rows."""

    layer: int
    direction: str  # "forward" or "backward"
    mask: torch.Tensor  # [B, T]
    grad_c: torch.Tensor  # [B, T] ||dL/dc_k||
    grad_h: torch.Tensor  # [B, T] ||dL/dh_k||
    gates: dict[str, torch.Tensor]  # name -> [B, T, H]
    forget_product: torch.Tensor | None  # [B, T] mean over units of prod_{t>k} f_t (None: no forget gate)


@dataclass
class GradientFlow:
    layer: int
    direction: str
    distance: list[int]  # steps back from the direction's last real step, where the h_T loss enters
    grad_c: list[float]
    grad_h: list[float]
    forget_product: list[float] | None
    rows: list[int]  # how many rows reach each distance


@dataclass
class GateStats:
    layer: int
    direction: str
    gate: str
    mean: float
    saturation: float  # share of values < 0.05 or > 0.95
    by_position: list[float] = field(default_factory=list)  # mean in each tenth of the sequence


def probe_twin(encoder: LSTMEncoder) -> LSTMEncoder:
    """A copy of the encoder whose recurrence can be traced: nn.LSTM becomes its reference twin."""
    twin = copy.deepcopy(encoder)
    if isinstance(encoder.rnn, FastLSTM):
        rnn = encoder.rnn
        twin.rnn = ReferenceLSTM(rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.bidirectional).to(
            encoder.embedding.weight.device)
        copy_weights_from_nn_lstm(rnn, twin.rnn)
    return twin.eval()


def forget_products(forget: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """forget [B, T, H] -> [B, T, H] with entry k = prod_{t=k+1}^{last real step} f_t."""
    ones = torch.ones_like(forget[:, :1])
    f = torch.where(mask.unsqueeze(-1), forget, torch.ones_like(forget))
    after = torch.cat([f[:, 1:], ones], dim=1)  # f_{k+1}, ..., padded with 1
    return after.flip(1).cumprod(1).flip(1)


def trace_gradients(
    encoder: LSTMEncoder,
    token_ids: torch.Tensor,
    lengths: torch.Tensor,
    loss_fn: Callable[[EncoderOutput], torch.Tensor],
    chars: WordChars | None = None,
) -> list[DirectionTrace]:
    """Run a traced twin of the encoder, backpropagate loss_fn(output), read the per-step grads."""
    twin = probe_twin(encoder)
    if not isinstance(twin.rnn, StackedRecurrence):
        raise ConfigError(f"the diagnostics trace nn.LSTM and the research cells, not encoder.cell="
                          f"{encoder.cell}")
    cells = twin.rnn.directions()
    for cell in cells:
        cell.trace = []
    loss = loss_fn(twin(token_ids, lengths, chars))
    for cell in cells:
        for step in cell.trace:
            step["h"].retain_grad()
            step["c"].retain_grad()
    loss.backward()
    lengths = lengths.cpu()  # the traces are read on the CPU, whichever device ran the probe
    mask = torch.arange(token_ids.shape[1])[None, :] < lengths[:, None]
    per_layer = len(twin.rnn.layers[0])
    traces = []
    for index, cell in enumerate(cells):
        norm = lambda key, cell=cell: torch.stack(
            [s[key].grad.norm(dim=-1).cpu() if s[key].grad is not None else torch.zeros(len(lengths))
             for s in cell.trace], dim=1)
        gates = {name: torch.stack([s[name] for s in cell.trace], 1).detach().cpu()
                 for name in ("f", "i", "o") if name in cell.trace[0]}
        product = forget_products(gates["f"], mask).mean(-1) if "f" in gates else None
        traces.append(DirectionTrace(index // per_layer, "backward" if index % per_layer else "forward", mask,
                                     norm("c").detach(), norm("h").detach(), gates, product))
        cell.trace = None
    return traces


def gradient_flow(traces: list[DirectionTrace], lengths: torch.Tensor) -> list[GradientFlow]:
    """Average each trace over rows by distance from the row's last real step."""
    flows = []
    steps = torch.arange(traces[0].mask.shape[1])[None, :]
    distance = (lengths[:, None] - 1 - steps).clamp(min=-1)  # -1 at padding
    longest = int(lengths.max())
    for trace in traces:
        rows, grad_c, grad_h, product = [], [], [], []
        for d in range(longest):
            at = distance == d
            rows.append(int(at.sum()))
            grad_c.append(float(trace.grad_c[at].mean()))
            grad_h.append(float(trace.grad_h[at].mean()))
            if trace.forget_product is not None:
                product.append(float(trace.forget_product[at].mean()))
        flows.append(GradientFlow(trace.layer, trace.direction, list(range(longest)), grad_c, grad_h,
                                  product if trace.forget_product is not None else None, rows))
    return flows


def gate_stats(traces: list[DirectionTrace], lengths: torch.Tensor) -> list[GateStats]:
    steps = torch.arange(traces[0].mask.shape[1])[None, :]
    position_bin = (steps * POSITION_BINS // lengths[:, None]).clamp(max=POSITION_BINS - 1)
    stats = []
    for trace in traces:
        for name, values in trace.gates.items():
            real = values[trace.mask]  # [N real steps, H]
            low, high = SATURATION
            by_position = [float(values[trace.mask & (position_bin == b)].mean()) for b in range(POSITION_BINS)]
            stats.append(GateStats(trace.layer, trace.direction, name, float(real.mean()),
                                   float(((real < low) | (real > high)).float().mean()), by_position))
    return stats


def as_json(flows: list[GradientFlow], gates: list[GateStats], meta: dict) -> dict:
    return {**meta, "gradient_flow": [asdict(f) for f in flows], "gates": [asdict(g) for g in gates]}


def plot_gradient_flow(flows: list[GradientFlow], path: Path, title: str = "") -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(flows), figsize=(4.2 * len(flows), 3.6), squeeze=False)
    for axis, flow in zip(axes[0], flows):
        axis.semilogy(flow.distance, flow.grad_c, label="||dL/dc_k||")
        axis.semilogy(flow.distance, flow.grad_h, label="||dL/dh_k||")
        if flow.forget_product is not None:
            axis.semilogy(flow.distance, flow.forget_product, "--", label="prod_{t>k} f_t")
        axis.set(title=f"layer {flow.layer + 1} {flow.direction}", xlabel="steps back from h_T (T - k)")
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title or "gradient flow through time")
    fig.tight_layout()
    save_figure(fig, path)


def plot_gates(gates: list[GateStats], path: Path) -> None:
    plt = pyplot()
    groups = sorted({(g.layer, g.direction) for g in gates})
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), squeeze=False)
    centres = [(b + 0.5) / POSITION_BINS for b in range(POSITION_BINS)]
    for axis, (layer, direction) in zip(axes[0], groups):
        for g in (g for g in gates if (g.layer, g.direction) == (layer, direction)):
            axis.plot(centres, g.by_position, marker="o",
                      label=f"{g.gate}: mean {g.mean:.2f}, saturated {g.saturation:.0%}")
        axis.set(title=f"layer {layer + 1} {direction}", xlabel="relative position t / T", ylabel="mean gate",
                 ylim=(0, 1))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)



def diagnose(
    model, split: EncodedSplit, examples: int = 128, seed: int = 0
) -> tuple[list[GradientFlow], list[GateStats]]:
    """Gradient flow and gate statistics of a trained model on `examples` rows of an encoded split,
    with the head's own loss on the gold labels as L."""
    model.eval()
    rows = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:examples]
    batch = split.batch(rows).to(next(model.parameters()).device)  # lengths stay on the CPU
    traces = trace_gradients(
        model.encoder, batch.token_ids, batch.lengths, lambda out: model.head(out, batch).loss, batch.chars
    )
    return gradient_flow(traces, batch.lengths), gate_stats(traces, batch.lengths)


def write_diagnosis(out_dir: Path, flows: list[GradientFlow], gates: list[GateStats], meta: dict) -> None:
    write_json(out_dir / "diagnostics.json", as_json(flows, gates, meta))
    plot_gradient_flow(flows, out_dir / "gradient_flow.png", meta.get("title", ""))
    if gates:
        plot_gates(gates, out_dir / "gates.png")


def summary_lines(flows: list[GradientFlow], gates: list[GateStats], at: int = 20) -> list[str]:
    lines = []
    for f in flows:
        d = min(at, len(f.distance) - 1)
        line = (f"layer {f.layer + 1} {f.direction}: ||dL/dc|| at T-k=0: {f.grad_c[0]:.2e}, "
                f"at T-k={d}: {f.grad_c[d]:.2e} ({f.rows[d]} rows)")
        if f.forget_product is not None:
            line += f"; mean prod f over {d} steps: {f.forget_product[d]:.3f}"
        lines.append(line)
    for g in gates:
        lines.append(f"layer {g.layer + 1} {g.direction} gate {g.gate}: mean {g.mean:.3f}, "
                     f"saturated {g.saturation:.1%}")
    return lines
