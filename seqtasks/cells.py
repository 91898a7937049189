"""Recurrent cells behind the encoder, by name.

`lstm` is `nn.LSTM` (fast, cuDNN/MKL kernels). `reference` is the seed's equations written out:
z_t = [h_{t-1}; x_t]; f, i, o = sigmoid(W z + b); c~ = tanh(W_c z + b_c);
c_t = f * c_{t-1} + i * c~; h_t = o * tanh(c_t), with four separate matrices. It is slow and
exists so the equations can be read, checked against `nn.LSTM`, and probed (gates, gradients).
Every cell takes and returns what `nn.LSTM(batch_first=True)` does for a PackedSequence.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row of x [B, T, ...] within its own length; padding stays where it is."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class ReferenceLSTMDirection(nn.Module):
    """One direction of one layer, one step at a time, exactly as the seed writes it."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        z_size = hidden_size + input_size
        self.forget_gate = nn.Linear(z_size, hidden_size)
        self.input_gate = nn.Linear(z_size, hidden_size)
        self.candidate = nn.Linear(z_size, hidden_size)
        self.output_gate = nn.Linear(z_size, hidden_size)
        self.hidden_size = hidden_size

    def step(self, x_t, h_prev, c_prev):
        z_t = torch.cat([h_prev, x_t], dim=-1)
        f_t = torch.sigmoid(self.forget_gate(z_t))
        i_t = torch.sigmoid(self.input_gate(z_t))
        o_t = torch.sigmoid(self.output_gate(z_t))
        c_tilde = torch.tanh(self.candidate(z_t))
        c_t = f_t * c_prev + i_t * c_tilde
        h_t = o_t * torch.tanh(c_t)
        return h_t, c_t

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        """x [B, T, D], mask [B, T] -> states [B, T, H] (zeros at padding), h_T [B, H], c_T [B, H]."""
        batch = x.shape[0]
        h = x.new_zeros(batch, self.hidden_size)
        c = x.new_zeros(batch, self.hidden_size)
        states = []
        for t in range(x.shape[1]):
            h_new, c_new = self.step(x[:, t], h, c)
            real = mask[:, t, None]
            h = torch.where(real, h_new, h)  # past a row's length its state stays at h_T
            c = torch.where(real, c_new, c)
            states.append(h_new * real)
        return torch.stack(states, dim=1), h, c


class ReferenceLSTM(nn.Module):
    """A stack of reference directions with the calling convention of `nn.LSTM(batch_first=True)`."""

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False, dropout=0.0) -> None:
        super().__init__()
        directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            nn.ModuleList(
                ReferenceLSTMDirection(input_size if layer == 0 else hidden_size * directions, hidden_size)
                for _ in range(directions)
            )
            for layer in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, packed: PackedSequence):
        x, lengths = pad_packed_sequence(packed, batch_first=True)
        mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
        mask = mask.to(x.device)
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


def _nn_lstm(input_size, hidden_size, num_layers=1, bidirectional=False, dropout=0.0) -> nn.LSTM:
    return nn.LSTM(
        input_size,
        hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout if num_layers > 1 else 0.0,
        batch_first=True,
    )


CELLS = {"lstm": _nn_lstm, "reference": ReferenceLSTM}


def build_cell(name: str, input_size: int, hidden_size: int, **options) -> nn.Module:
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; valid cells: {', '.join(sorted(CELLS))}")
    return CELLS[name](input_size, hidden_size, **options)
