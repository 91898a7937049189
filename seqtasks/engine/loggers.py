"""Where the per-epoch record goes besides log.jsonl: one small class per destination, chosen by
`train.log` (comma-separated). Each takes the record `log.jsonl` gets: epoch, train_loss, the dev
metrics, train_seconds and train_tokens_per_s. Another destination (MLflow, W&B) is one more class."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from seqtasks.core.errors import ConfigError, SeqtasksError
from seqtasks.engine.run import RunFolder


class TensorBoardLogger:
    """Scalars under RUN/tensorboard/ (`tensorboard --logdir runs`): train/loss, dev/METRIC, speed."""

    def __init__(self, folder: RunFolder) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional: the `tensorboard` extra
        except ImportError:
            raise SeqtasksError("train.log=tensorboard needs the tensorboard package: "
                                "pip install 'seqtasks[tensorboard]'") from None
        self.writer = SummaryWriter(log_dir=str(folder.path / "tensorboard"))

    def epoch(self, record: dict) -> None:
        step = record["epoch"]
        self.writer.add_scalar("train/loss", record["train_loss"], step)
        self.writer.add_scalar("train/tokens_per_s", record["train_tokens_per_s"], step)
        for key, value in record["dev"].items():
            if isinstance(value, int | float):
                self.writer.add_scalar(f"dev/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


LOGGERS = {"tensorboard": TensorBoardLogger}


def logger_names(spec: str) -> list[str]:
    """train.log's destinations, checked (before a run folder is written: seqtasks/engine/pipeline.py)."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in LOGGERS]
    if unknown:
        raise ConfigError(f"train.log={spec!r}: unknown destination {unknown[0]!r}; destinations: {', '.join(LOGGERS)} "
                          f"(log.jsonl is always written)")
    return names


# Listeners a caller attaches around training it starts (`seqtasks tune` reports each epoch to its
# trial, and prunes there), without every recipe's main() passing them down.
LISTENERS: ContextVar[tuple[Callable, ...]] = ContextVar("epoch_listeners", default=())


@contextmanager
def listening(factory: Callable[[str, bool], object]) -> Iterator[None]:
    """Within the block, each training run also sends its epochs to factory(metric, minimize), called
    once per run (a cross-validated recipe trains one run per fold), which returns a logger."""
    token = LISTENERS.set((*LISTENERS.get(), factory))
    try:
        yield
    finally:
        LISTENERS.reset(token)


def make_loggers(spec: str, folder: RunFolder, metric: str = "", minimize: bool = False) -> list:
    """train.log's destinations, then the listeners of any enclosing `listening` block."""
    return [LOGGERS[name](folder) for name in logger_names(spec)] + [make(metric, minimize) for make in LISTENERS.get()]
