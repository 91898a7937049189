"""Where training runs: the device, mixed precision, and data parallelism across processes with
PyTorch's own engine (torch.distributed, launched by torchrun; nccl on GPU, gloo on CPU).

Every rank walks the same seeded, length-bucketed batch order (a function of seed and epoch, so
--resume stays exact) and takes its share of each global batch; DDP all-reduces the gradients.
Each rank's loss is weighted by its share of the batch's rows, so the averaged gradient is the
gradient of the global batch's mean loss: 2 processes end where 1 process does (a test checks it).
Rank 0 alone scores dev and writes the run folder; it tells the other ranks the dev result.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from seqtasks.core.errors import ConfigError

AMP = {"": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    amp: str = ""  # "", "bf16" or "fp16"
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """The rank that scores dev, logs and writes files."""
        return self.rank == 0

    def autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=AMP[self.amp])

    def scaler(self) -> torch.amp.GradScaler | None:
        """fp16 needs its loss scaled so small gradients do not underflow; bf16 does not."""
        return torch.amp.GradScaler(self.device.type) if self.amp == "fp16" else None

    def share(self, index: torch.Tensor, terms: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
        """This rank's rows of a global batch and its loss weight: world x its share of the loss's terms,
        the rows, or (`terms`, per row of `index`) the tokens of a loss averaged over tokens, so the
        ranks' weighted losses average to the whole batch's. A rank left without rows (a batch smaller
        than the world) runs one row at weight 0, so every rank still joins the all-reduce."""
        if self.world == 1:
            return index, 1.0
        mine = index.tensor_split(self.world)[self.rank]
        if len(mine) == 0:
            return index[:1], 0.0
        if terms is None:
            return mine, self.world * len(mine) / len(index)
        total = float(terms.sum())
        return mine, self.world * float(terms.tensor_split(self.world)[self.rank].sum()) / total if total else 0.0

    def broadcast(self, value):
        """Rank 0's value on every rank."""
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def resolve_device(requested: str) -> torch.device:
    """"" picks cuda when there is one, else cpu; cuda asked for where there is none is an error."""
    try:
        device = torch.device(requested or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError:
        raise ConfigError(f"--device {requested}: expected cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {requested}: this machine has no CUDA device (torch {torch.__version__}, "
                          f"torch.cuda.is_available() is False); use --device cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def leave_process_group() -> None:
    """Every rank waits for the others, then tears the group down. Left to process exit, gloo's threads
    were sometimes destroyed still joinable: std::terminate, and torchrun failing a finished run."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def runtime(device: str = "", amp: str = "") -> Runtime:
    """The runtime of this process: under torchrun (WORLD_SIZE > 1) it joins the process group, one
    GPU per local rank."""
    if amp not in AMP:
        raise ConfigError(f"--amp {amp}: expected bf16 or fp16")
    chosen = resolve_device(device)
    if amp and chosen.type != "cuda":
        raise ConfigError(f"--amp {amp} needs a GPU: mixed precision on this CPU is slower, not faster; "
                          f"drop --amp or use --device cuda")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Runtime(chosen, amp)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return Runtime(chosen, amp, dist.get_rank(), dist.get_world_size())


def check_world(world: int, batch_size: int) -> None:
    if world > batch_size:
        raise ConfigError(f"{world} processes share each batch of train.batch_size={batch_size} rows: use at most "
                          f"{batch_size} processes (--nproc-per-node), or raise train.batch_size")
