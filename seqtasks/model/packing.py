"""Packing a padded batch for the LSTM, and back, without waiting for the GPU.

torch's `pack_padded_sequence(enforce_sorted=False)` copies its sort order to the GPU from ordinary
memory, and `pad_packed_sequence` copies the inverse order back to the CPU: each is a device sync.
At batch 32 a GPU step is bound by how fast the CPU launches kernels, so every sync leaves the GPU
idle while the next kernels are launched (seen on an H100: two syncs per training step). Here both
orders are computed on the CPU, where the lengths are, and copied without waiting, like the batch.
"""
from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def pack(padded: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    """padded [B, T, ...] (batch first), lengths [B] -> the PackedSequence torch's own function
    returns, with the same sorted and unsorted indices."""
    lengths = lengths.cpu()
    if torch.jit.is_tracing():  # an exported graph sorts in itself, whatever the example batch was
        return pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    sorted_lengths, order = torch.sort(lengths, descending=True)
    sorted_indices, unsorted_indices = torch.stack([order, order.argsort()]).to(padded.device, non_blocking=True)
    packed = pack_padded_sequence(padded.index_select(0, sorted_indices), sorted_lengths, batch_first=True)
    return PackedSequence(packed.data, packed.batch_sizes, sorted_indices, unsorted_indices)


def unpack(packed: PackedSequence, total_length: int) -> torch.Tensor:
    """[B, total_length, ...] zero-padded, rows in the order they were packed in."""
    if torch.jit.is_tracing():
        return pad_packed_sequence(packed, batch_first=True, total_length=total_length)[0]
    padded, _ = pad_packed_sequence(PackedSequence(packed.data, packed.batch_sizes), batch_first=True,
                                    total_length=total_length)
    return padded if packed.unsorted_indices is None else padded.index_select(0, packed.unsorted_indices)
