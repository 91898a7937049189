"""Host-to-device copies that do not stall the GPU."""
from __future__ import annotations

import torch


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """A copy on `device` that does not wait for the GPU: from pinned memory a host-to-device copy is
    queued like a kernel; from ordinary memory it waits for everything queued before it."""
    if torch.device(device).type == "cuda" and not tensor.is_cuda:
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)
