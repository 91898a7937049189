"""The training loop: AdamW, clipping, early stopping on a dev metric, exact resume.

State that must survive a kill (weights, optimizer moments, RNG, epoch, history) is
written atomically after every epoch as `last.safetensors` + `trainer_state.json`, so
`--resume` continues where the run stopped and ends where an uninterrupted run would.
Batch order depends only on (seed, epoch), which is what makes that possible.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch
from tqdm.auto import tqdm

from seqtasks.core.checkpoint import (
    atomic_write,
    load_tensors,
    optimizer_tensors,
    restore_optimizer,
    save_tensors,
    save_weights,
    strict_json,
    write_json,
)
from seqtasks.core.config import TrainConfig
from seqtasks.core.errors import CheckpointError, ConfigError, SeqtasksError
from seqtasks.data.batching import EncodedPairs, EncodedSplit, bucketed_batches
from seqtasks.engine.averaging import WeightAverage
from seqtasks.engine.distributed import Runtime
from seqtasks.engine.mixture import TaskMixture
from seqtasks.engine.run import RunFolder, read_json

Scorer = Callable[[torch.nn.Module], dict]  # the model -> its dev metrics


class DivergedError(SeqtasksError):
    """Training produced a loss, a weight or a dev metric that is not a finite number."""


@dataclass
class TrainerState:
    epoch: int = 0  # epochs completed
    best_score: float = float("-inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    finished: bool = False
    history: list[dict] = field(default_factory=list)


def epoch_batches(split: EncodedSplit | TaskMixture, config: TrainConfig, epoch: int) -> list:
    """An epoch's batches (row indices; for a TaskMixture, (task, row indices)), a function of (seed, epoch)."""
    if isinstance(split, TaskMixture):
        return split.epoch_batches(config, epoch)
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    batches = bucketed_batches(split.lengths, config.batch_size, generator, config.bucket_pool)
    return batches[: config.max_steps] if config.max_steps else batches


def batch_tokens(split: EncodedSplit | TaskMixture, batches: list) -> int:
    if isinstance(split, TaskMixture):
        return split.tokens(batches)
    return int(sum(int(split.lengths[b].sum()) for b in batches))


@dataclass(frozen=True)
class Schedule:
    """The learning rate of every step, a function of (epoch, step) alone, so --resume continues it
    exactly: train.lr / (1 + lr_decay * epoch), times each parameter group's share (train.encoder_lr for
    the encoder), and with train.warmup times ULMFiT's slanted triangle over all steps (Howard & Ruder
    2018: a linear rise over the first `warmup` share of steps, then a linear fall to 1/32 of the peak)."""

    config: TrainConfig
    steps_per_epoch: int
    ratio: float = 32.0

    def rate(self, epoch: int, step: int) -> float:
        lr = self.config.lr / (1 + self.config.lr_decay * epoch)
        if not self.config.warmup:
            return lr
        total = self.config.epochs * self.steps_per_epoch
        done, cut = epoch * self.steps_per_epoch + step, max(1, int(total * self.config.warmup))
        rise = done / cut if done < cut else 1 - (done - cut) / max(1, total - cut)
        return lr * (1 + max(0.0, rise) * (self.ratio - 1)) / self.ratio

    def apply(self, optimizer: torch.optim.Optimizer, epoch: int, step: int) -> None:
        rate = self.rate(epoch, step)
        for group in optimizer.param_groups:
            group["lr"] = rate * group.get("share", 1.0)


def train_epoch(model, optimizer, split, batches, config: TrainConfig, device, desc: str,
                runtime: Runtime | None = None, scaler: torch.amp.GradScaler | None = None,
                average: WeightAverage | None = None, before_step: Callable[[int], None] | None = None) -> float:
    """One pass over `batches`; under DDP each rank takes its share of every batch (Runtime.share).
    `before_step(i)` sets a per-step learning rate (train.warmup)."""
    runtime = runtime or Runtime(torch.device(device))
    model.train()
    losses: list[torch.Tensor] = []  # summed every 50 steps: a running += would be a kernel launch per step
    first_bad = torch.tensor(0, device=runtime.device)  # the first step with a non-finite loss, 0: none; no sync
    bar = tqdm(total=len(batches), desc=desc, unit="batch", leave=False, dynamic_ncols=True,
               disable=None if runtime.main else True)
    for step, index in enumerate(batches, start=1):
        bar.update()
        if before_step:
            before_step(step - 1)
        mine, weight = runtime.share(index, loss_terms(model, split, index) if runtime.world > 1 else None)
        with runtime.autocast():
            output = model(split.batch(mine).to(runtime.device))
        loss = output.loss if weight == 1.0 else output.loss * weight
        optimizer.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.unscale_(optimizer)
        if config.clip_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if average:
            average.update()
        losses.append(output.loss.detach().float())
        first_bad = torch.where((first_bad == 0) & ~torch.isfinite(losses[-1]), step, first_bad)
        if step % 50 == 0:
            check_finite_loss(first_bad, desc)
            losses = [torch.stack(losses).sum()]
            bar.set_postfix(loss=f"{losses[0].item() / step:.4f}")
    bar.close()
    check_finite_loss(first_bad, desc)
    return torch.stack(losses).sum().item() / len(batches) if batches else 0.0


def loss_terms(model, split, index) -> torch.Tensor | None:
    """Per row of a batch, how many terms its head's loss averages over, for a head whose loss is a
    mean over tokens (`loss_terms(lengths)`: a language model, a per-token softmax); None: one a row."""
    head = getattr(getattr(model, "module", model), "head", None)
    per_row = getattr(head, "loss_terms", None)
    lengths = getattr(split, "lengths", None)
    return per_row(lengths[index]) if per_row is not None and lengths is not None else None


def check_finite_loss(first_bad: torch.Tensor, desc: str) -> None:
    """Stop at the first check after a step whose loss was NaN or infinite (read every 50 steps with the
    progress bar's loss, so the hot path adds no sync)."""
    step = int(first_bad)
    if step:
        raise DivergedError(f"{desc}, step {step}: the training loss is not a finite number; the run diverged. "
                            f"Try a lower train.lr (or train.clip_norm); the best epoch so far is kept")


def check_finite(model: torch.nn.Module, dev: dict, metric: str, desc: str) -> None:
    """After an epoch: every weight finite, and the dev metric a number, before either can be selected."""
    value = dev.get(metric)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise DivergedError(f"{desc}: dev {metric} is {value!r}, not a finite number; the run diverged or "
                            f"predicts one constant. Try a lower train.lr")
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise DivergedError(f"{desc}: a weight is not a finite number any more; the run diverged. Try a lower train.lr")


def save_training_state(folder: RunFolder, model, optimizer, state: TrainerState,
                        average: WeightAverage | None = None) -> None:
    tensors, optimizer_meta = optimizer_tensors(optimizer)
    tensors.update({f"model.{k}": v for k, v in model.state_dict().items()})
    tensors.update(average.tensors() if average else {})
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    save_tensors(folder.last, tensors, "training")
    write_json(folder.trainer_state, {"state": asdict(state), "optimizer": optimizer_meta})


def load_training_state(folder: RunFolder, model, optimizer, average: WeightAverage | None = None) -> TrainerState:
    saved = read_json(folder.trainer_state, "the training state --resume continues")
    tensors = load_tensors(folder.last, "training")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    restore_optimizer(optimizer, {k: v for k, v in tensors.items() if k.startswith("optimizer.")},
                      saved["optimizer"])
    if average:
        average.load(tensors)
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    try:
        return TrainerState(**saved["state"])
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{folder.trainer_state}: not a seqtasks training state ({error})") from None


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW, fused: one kernel over all parameters instead of a dozen passes. With the 100,000 GloVe
    words in a vocabulary, the embedding's 5M parameters made the default (foreach) step the largest
    cost of a CPU training step; fused runs it 5x faster, on CPU as on CUDA. With train.encoder_lr the
    encoder is a parameter group of its own, at that share of the rate (Schedule)."""
    if config.encoder_lr == 1.0:
        groups = [{"params": list(model.parameters())}]
    else:
        encoder = {id(p) for p in model.encoder.parameters()}
        groups = [{"params": [p for p in model.parameters() if id(p) in encoder], "share": config.encoder_lr},
                  {"params": [p for p in model.parameters() if id(p) not in encoder]}]
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay, fused=True)


def train(
    model: torch.nn.Module,
    train_data: EncodedSplit | EncodedPairs | TaskMixture,
    config: TrainConfig,
    folder: RunFolder,
    score: Scorer,
    metric: str,
    resume: bool = False,
    runtime: Runtime | None = None,
    freeze_encoder_epochs: int = 0,
    loggers: list | None = None,
    minimize: bool = False,
) -> TrainerState:
    """Train until `config.epochs` or `config.patience` epochs without a better dev `metric`.

    The best weights go to `best.safetensors` (with the run inputs' checksums in its header); the epoch
    log to `log.jsonl` and any `loggers`. A loss, weight or dev metric that is not finite stops the run
    (DivergedError) before it can be selected. With `minimize` a lower metric is better (perplexity);
    `best_score` then holds its negative. Under DDP every rank trains; rank 0 scores dev, tells the
    others the result, and alone writes files.
    """
    runtime = runtime or Runtime(torch.device("cpu"))
    # Vanishing gradients reach subnormal floats (~1e-40), which x86 CPUs handle orders of magnitude
    # slower; seen here as a 6x slower long-range run. Flushing them to zero changes nothing measurable.
    torch.set_flush_denormal(True)
    optimizer = make_optimizer(model, config)
    scaler = runtime.scaler()
    average = WeightAverage(model, config.average) if config.average else None
    state = TrainerState()
    if resume and folder.trainer_state.is_file():
        state = load_training_state(folder, model, optimizer, average)
    stepped = model
    if runtime.world > 1 and freeze_encoder_epochs:
        raise ConfigError("encoder.freeze_epochs is not supported under torchrun (DDP needs a fixed set of trained "
                          "parameters); train without it, or in one process")
    if runtime.world > 1:
        ids = [runtime.device.index] if runtime.device.type == "cuda" else None
        stepped = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    inputs = {f"input:{name}": sha256 for name, sha256 in folder.input_checksums().items()} if runtime.main else {}
    trainable = [p for p in model.encoder.parameters() if p.requires_grad]  # frozen vectors stay frozen
    while not state.finished and state.epoch < config.epochs:
        for parameter in trainable:  # a function of the epoch alone, like the learning rate
            parameter.requires_grad_(state.epoch >= freeze_encoder_epochs)
        started = time.perf_counter()
        batches = epoch_batches(train_data, config, state.epoch)
        schedule, epoch = Schedule(config, len(batches)), state.epoch
        schedule.apply(optimizer, epoch, 0)
        desc = f"epoch {state.epoch + 1}/{config.epochs}"
        train_loss = train_epoch(stepped, optimizer, train_data, batches, config, runtime.device, desc, runtime,
                                 scaler, average,
                                 partial(schedule.apply, optimizer, epoch) if config.warmup else None)
        train_seconds = time.perf_counter() - started
        with average.applied() if average else nullcontext():
            dev = runtime.broadcast(score(model) if runtime.main else None)
            check_finite(model, dev, metric, desc)
            selected = -dev[metric] if minimize else dev[metric]
            if runtime.main and selected > state.best_score:
                save_weights(model, folder.best, inputs)
        state.epoch += 1
        tokens = batch_tokens(train_data, batches)
        state.history.append({"epoch": state.epoch, "train_loss": train_loss, "dev": dev,
                              "train_seconds": round(train_seconds, 3),
                              "train_tokens_per_s": round(tokens / train_seconds, 1)})
        improved = selected > state.best_score
        if improved:
            state.best_score, state.best_epoch, state.bad_epochs = selected, state.epoch, 0
        else:
            state.bad_epochs += 1
        state.finished = state.bad_epochs >= config.patience or state.epoch >= config.epochs
        if runtime.main:
            tqdm.write(f"{desc}: train loss {train_loss:.4f}, dev {metric} {dev[metric]:.4f}"
                       f"{' (best)' if improved else ''}, {train_seconds:.1f}s")
            save_training_state(folder, model, optimizer, state, average)
            write_log(folder.log, state.history)
            for logger in loggers or []:
                logger.epoch(state.history[-1])
    for logger in loggers or []:
        logger.close()
    if runtime.world > 1:
        torch.distributed.barrier()  # the other ranks read best.safetensors next
    return state


def write_log(path: Path, history: list[dict]) -> None:
    text = "".join(strict_json(row) + "\n" for row in history)
    atomic_write(path, lambda temp: Path(temp).write_text(text))
