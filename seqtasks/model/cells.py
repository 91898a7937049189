"""Recurrent cells behind the encoder, by name (CELLS).

`lstm` is `nn.LSTM` (fast kernels; the default). The others exist so the seed's claims can be
checked by running them:

- `reference`: the seed's equations written out, z_t = [h_{t-1}; x_t]; f, i, o = sigmoid(W z + b);
  c~ = tanh(W_c z + b_c); c_t = f * c_{t-1} + i * c~; h_t = o * tanh(c_t), four separate matrices.
  Equal to `lstm` once weights are mapped (copy_weights_from_nn_lstm).
- `tied_gates`: one matrix shared by the forget, input and output gates (W_f = W_i = W_o; seed Q7,
  Q17). Each gate keeps its own bias, so the forget-bias initialisation still applies.
- `no_output_gate`: h_t = tanh(c_t) (seed Q5).
- `rnn`: a vanilla tanh RNN of the same width, h_t = tanh(W z + b) (seed Q10, Q14).
- `separate_stacks`: two `nn.LSTM` stacks, forward and backward, each layer reading only its own
  direction's layer below (ELMo's biLM), which a multi-layer bidirectional language model needs.

The variants project every input step in one matmul up front and loop only over the
recurrent part, in eager PyTorch: a TorchScript version of the same loop measured slower on
this CPU (fwd+bwd at T=100, B=64, H=64, 1 thread: rnn 24 vs 11 ms, no_output_gate 82 vs 23,
tied_gates 77 vs 39; nn.LSTM 9-13 ms). Every direction can record its per-step h, c and gates (`trace`) for the
diagnostics. Every cell takes and returns what `nn.LSTM(batch_first=True)` does for a
PackedSequence, so the encoder does not care which one it runs.
"""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row of x [B, T, ...] within its own length; padding stays where it is."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class Direction(nn.Module):
    """One direction of one layer: `step` is the cell, `forward` runs it over a masked batch.

    With `trace` set to a list, each step appends {"h", "c", and the gates} (tensors still in the
    graph, so their gradients can be read after backward). `cut_hidden_path` detaches h_{t-1}
    inside the gates, leaving c_{t-1} -> c_t as the only path through time (for tests of Q11).
    """

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.trace: list[dict] | None = None
        self.cut_hidden_path = False

    def project_inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def step(self, x_t, h_prev, c_prev) -> tuple[torch.Tensor, torch.Tensor, dict]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        """x [B, T, D], mask [B, T] -> states [B, T, H] (zeros at padding), h_T [B, H], c_T [B, H]."""
        batch = x.shape[0]
        h = x.new_zeros(batch, self.hidden_size)
        c = x.new_zeros(batch, self.hidden_size)
        # unbind, not x[:, t]: each slice's backward would write a full [B, T, ...] zero tensor (O(T^2))
        inputs = self.project_inputs(x).unbind(1)
        real_steps = mask.unsqueeze(-1).unbind(1)
        states = []
        for x_t, real in zip(inputs, real_steps):
            h_new, c_new, gates = self.step(x_t, h.detach() if self.cut_hidden_path else h, c)
            if self.trace is not None:
                self.trace.append({"h": h_new, "c": c_new, **gates})
            h = torch.where(real, h_new, h)  # past a row's length its state stays at h_T
            c = torch.where(real, c_new, c)
            states.append(h_new * real)
        return torch.stack(states, dim=1), h, c


class ReferenceLSTMDirection(Direction):
    """The seed's LSTM, one step at a time, exactly as written."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(hidden_size)
        z_size = hidden_size + input_size
        self.forget_gate = nn.Linear(z_size, hidden_size)
        self.input_gate = nn.Linear(z_size, hidden_size)
        self.candidate = nn.Linear(z_size, hidden_size)
        self.output_gate = nn.Linear(z_size, hidden_size)

    def step(self, x_t, h_prev, c_prev):
        z_t = torch.cat([h_prev, x_t], dim=-1)
        f_t = torch.sigmoid(self.forget_gate(z_t))
        i_t = torch.sigmoid(self.input_gate(z_t))
        o_t = torch.sigmoid(self.output_gate(z_t))
        c_tilde = torch.tanh(self.candidate(z_t))
        c_t = f_t * c_prev + i_t * c_tilde
        h_t = o_t * torch.tanh(c_t)
        return h_t, c_t, {"f": f_t, "i": i_t, "o": o_t}

    def init_forget_bias(self, value: float) -> None:
        with torch.no_grad():
            self.forget_gate.bias.fill_(value)


class VariantDirection(Direction):
    """tied_gates, no_output_gate or rnn, with W z split as W_x x (all steps at once) + W_h h."""

    BLOCKS: ClassVar[dict[str, int]] = {"tied_gates": 2, "no_output_gate": 3, "rnn": 1}

    def __init__(self, input_size: int, hidden_size: int, kind: str) -> None:
        super().__init__(hidden_size)
        self.kind = kind
        blocks = self.BLOCKS[kind]
        self.input_proj = nn.Linear(input_size, blocks * hidden_size)
        self.hidden_proj = nn.Linear(hidden_size, blocks * hidden_size, bias=False)
        if kind == "tied_gates":  # the one shared gate matrix, offset per gate (f, i, o)
            self.gate_bias = nn.Parameter(torch.zeros(3, hidden_size))

    def project_inputs(self, x):
        return self.input_proj(x)

    def step(self, x_t, h_prev, c_prev):
        pre = x_t + self.hidden_proj(h_prev)
        if self.kind == "rnn":
            h_t = torch.tanh(pre)
            return h_t, h_t, {}
        if self.kind == "no_output_gate":
            f_pre, i_pre, g_pre = pre.chunk(3, dim=-1)
            f_t, i_t = torch.sigmoid(f_pre), torch.sigmoid(i_pre)
            c_t = f_t * c_prev + i_t * torch.tanh(g_pre)
            return torch.tanh(c_t), c_t, {"f": f_t, "i": i_t}
        shared, g_pre = pre.chunk(2, dim=-1)
        f_t, i_t, o_t = torch.sigmoid(shared[None] + self.gate_bias[:, None]).unbind(0)
        c_t = f_t * c_prev + i_t * torch.tanh(g_pre)
        return o_t * torch.tanh(c_t), c_t, {"f": f_t, "i": i_t, "o": o_t}

    def init_forget_bias(self, value: float) -> None:
        if self.kind == "rnn":
            raise ValueError("the rnn cell has no forget gate: leave encoder.forget_bias unset")
        with torch.no_grad():
            if self.kind == "tied_gates":
                self.gate_bias[0].fill_(value)
            elif self.kind == "no_output_gate":
                self.input_proj.bias[: self.hidden_size].fill_(value)


class StackedRecurrence(nn.Module):
    """Layers x directions of a Direction, with the calling convention of nn.LSTM(batch_first=True)."""

    def __init__(self, make_direction, input_size, hidden_size, num_layers=1, bidirectional=False, dropout=0.0):
        super().__init__()
        directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            nn.ModuleList(
                make_direction(input_size if layer == 0 else hidden_size * directions, hidden_size)
                for _ in range(directions)
            )
            for layer in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)

    def directions(self) -> list[Direction]:
        return [cell for layer in self.layers for cell in layer]

    def forward(self, packed: PackedSequence):
        x, lengths = pad_packed_sequence(packed, batch_first=True)
        mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).to(x.device)
        h_n, c_n = [], []
        for depth, layer in enumerate(self.layers):
            if depth:
                x = self.dropout(x)
            outputs = []
            for direction, cell in enumerate(layer):
                inputs = reverse_padded(x, lengths) if direction else x
                states, h_last, c_last = cell(inputs, mask)
                outputs.append(reverse_padded(states, lengths) if direction else states)
                h_n.append(h_last)
                c_n.append(c_last)
            x = torch.cat(outputs, dim=-1)
        packed_out = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return packed_out, (torch.stack(h_n), torch.stack(c_n))

    def init_forget_bias(self, value: float) -> None:
        for cell in self.directions():
            cell.init_forget_bias(value)


class ReferenceLSTM(StackedRecurrence):
    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False, dropout=0.0) -> None:
        super().__init__(ReferenceLSTMDirection, input_size, hidden_size, num_layers, bidirectional, dropout)


def copy_weights_from_nn_lstm(source: nn.LSTM, target: ReferenceLSTM) -> None:
    """Map nn.LSTM's stacked (i, f, g, o) weights onto the four reference matrices.

    nn.LSTM computes W_ih x + b_ih + W_hh h + b_hh; the reference computes W [h; x] + b,
    so W = [W_hh | W_ih] and b = b_ih + b_hh, gate by gate.
    """
    names = ("input_gate", "forget_gate", "candidate", "output_gate")  # nn.LSTM's order: i, f, g, o
    with torch.no_grad():
        for depth, layer in enumerate(target.layers):
            for direction, cell in enumerate(layer):
                suffix = f"_l{depth}" + ("_reverse" if direction else "")
                w_ih = getattr(source, "weight_ih" + suffix).chunk(4)
                w_hh = getattr(source, "weight_hh" + suffix).chunk(4)
                b = (getattr(source, "bias_ih" + suffix) + getattr(source, "bias_hh" + suffix)).chunk(4)
                for k, name in enumerate(names):
                    linear = getattr(cell, name)
                    linear.weight.copy_(torch.cat([w_hh[k], w_ih[k]], dim=1))
                    linear.bias.copy_(b[k])


class FastLSTM(nn.LSTM):
    """nn.LSTM, batch-first, with the forget-bias initialisation the other cells have."""

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False, dropout=0.0) -> None:
        super().__init__(input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                         dropout=dropout if num_layers > 1 else 0.0, batch_first=True)

    def init_forget_bias(self, value: float) -> None:
        hidden = self.hidden_size
        with torch.no_grad():
            for name, bias in self.named_parameters():
                if name.startswith("bias_ih"):
                    bias[hidden : 2 * hidden].fill_(value)
                elif name.startswith("bias_hh"):
                    bias[hidden : 2 * hidden].zero_()  # the two biases add up: keep the sum at `value`


def packed_reversal(batch_sizes: torch.Tensor) -> torch.Tensor:
    """The index into a PackedSequence's data that reverses every row within its own length: the entry
    of (row r, step t) takes that of (r, length_r - 1 - t). Rows keep their lengths, so the reversed
    data packs with the same batch_sizes and sort order (and the index is its own inverse)."""
    offsets = torch.cumsum(batch_sizes, 0) - batch_sizes  # where each step's rows start
    step = torch.repeat_interleave(torch.arange(len(batch_sizes)), batch_sizes)
    row = torch.arange(len(step)) - offsets[step]
    lengths = (batch_sizes[None, :] > torch.arange(int(batch_sizes[0]))[:, None]).sum(1)  # per sorted row
    return offsets[lengths[row] - 1 - step] + row


class SeparateStacks(nn.Module):
    """A forward and a backward `nn.LSTM` stack, each layer fed only by its own direction (ELMo's biLM).

    `nn.LSTM(bidirectional=True)` feeds both directions' outputs into each direction from its second
    layer on, so in a language model the forward state at t would have read token t+1 through the
    backward half. Here neither direction ever reads the other; with one layer this is what
    nn.LSTM(bidirectional=True) computes. Takes and returns what nn.LSTM(batch_first=True) does for a
    PackedSequence, h_n in its order (layer by layer, forward then backward)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=True, dropout=0.0) -> None:
        super().__init__()
        if not bidirectional:
            raise ValueError("cell separate_stacks is the two directions of a bidirectional encoder: "
                             "leave encoder.bidirectional on, or use cell lstm")
        self.forward_stack = FastLSTM(input_size, hidden_size, num_layers, dropout=dropout)
        self.backward_stack = FastLSTM(input_size, hidden_size, num_layers, dropout=dropout)

    def forward(self, packed: PackedSequence):
        reversal = packed_reversal(packed.batch_sizes).to(packed.data.device, non_blocking=True)
        repacked = lambda data: PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        forward_states, (h_forward, c_forward) = self.forward_stack(packed)
        backward_states, (h_backward, c_backward) = self.backward_stack(repacked(packed.data[reversal]))
        states = torch.cat([forward_states.data, backward_states.data[reversal]], dim=-1)
        by_layer = lambda forward, backward: torch.stack([forward, backward], dim=1).flatten(0, 1)
        return repacked(states), (by_layer(h_forward, h_backward), by_layer(c_forward, c_backward))

    def init_forget_bias(self, value: float) -> None:
        self.forward_stack.init_forget_bias(value)
        self.backward_stack.init_forget_bias(value)


def _variant(kind: str):
    def build(input_size, hidden_size, num_layers=1, bidirectional=False, dropout=0.0):
        make = lambda i, h: VariantDirection(i, h, kind)
        return StackedRecurrence(make, input_size, hidden_size, num_layers, bidirectional, dropout)

    return build


CELLS = {
    "lstm": FastLSTM,
    "reference": ReferenceLSTM,
    "tied_gates": _variant("tied_gates"),
    "no_output_gate": _variant("no_output_gate"),
    "rnn": _variant("rnn"),
    "separate_stacks": SeparateStacks,
}


def build_cell(name: str, input_size: int, hidden_size: int, **options) -> nn.Module:
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; valid cells: {', '.join(sorted(CELLS))}")
    return CELLS[name](input_size, hidden_size, **options)
