"""train.log: the per-epoch record log.jsonl gets also reaches TensorBoard, value for value."""
import json

import pytest

from seqtasks.cli import main
from seqtasks.core.errors import ConfigError
from seqtasks.engine.loggers import make_loggers
from seqtasks.engine.run import RunFolder


def test_tensorboard_gets_the_same_epochs_as_log_jsonl(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    table = tmp_path / "t.csv"
    table.write_text("text,label\n" + "".join(f"{'good fine' if i % 2 else 'bad poor'} {i},{i % 2}\n" for i in range(40)))
    assert main(["train", "text-classification", "--out", str(tmp_path / "run"), "--set", f"data.train={table}",
                 "--set", "train.log=tensorboard", "--set", "train.epochs=3", "--set", "train.patience=3",
                 "--set", "encoder.vectors=", "--set", "encoder.hidden_size=8"]) == 0
    epochs = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    events = event_accumulator.EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    dev = events.Scalars("dev/accuracy")
    assert [e.step for e in dev] == [1, 2, 3]
    assert [e.value for e in dev] == pytest.approx([row["dev"]["accuracy"] for row in epochs])
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx([row["train_loss"] for row in epochs])


def test_an_unknown_destination_is_refused_with_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown destination 'mlflow'; destinations: tensorboard"):
        make_loggers("mlflow", RunFolder(tmp_path))
