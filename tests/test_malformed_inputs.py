"""Seeded random malformed input against the own-data readers and the config loader: every case either
works or is one SeqtasksError (one line at the CLI), never another exception; and a training run on
such input either finishes or leaves no folder behind."""
import json
import random

import pytest

from seqtasks.api import resolve_config
from seqtasks.cli import main
from seqtasks.core.config import RunConfig, valid_keys
from seqtasks.core.errors import SeqtasksError
from seqtasks.engine.prepare import Member, prepare_data

WORDS = ["good", "bad", "fine", "film", "café", "😀", ",", "'", '"', "\\", "\t", "  ", "naïve", "x" * 40]
ODD = ["", " ", None, "nan", "inf", "-1", "1e400", "[1, 2]", "{}", "true", 3, 2.5, float("nan"), ["a", "b"],
       {"k": 1}, "\x85", "line\nbreak"]


def row(generator: random.Random, kind: str) -> dict:
    """A mostly good row with, at some rate, one field replaced by something odd."""
    text = " ".join(generator.choice(WORDS) for _ in range(generator.randint(1, 6)))
    good = {"label": generator.choice(["a", "b"]), "score": generator.random(),
            "tags": None}[kind]
    value = {"text": text, "gold": good}
    if generator.random() < 0.15:
        value[generator.choice(["text", "gold"])] = generator.choice(ODD)
    return value


def write(generator: random.Random, path, kind: str, rows: int) -> None:
    records = [row(generator, kind) for _ in range(rows)]
    if path.suffix == ".jsonl":
        lines = [json.dumps({"text": r["text"], "gold": r["gold"]}) for r in records]
        if generator.random() < 0.1:
            lines.insert(generator.randrange(len(lines)), generator.choice(["[1]", "{broken", "3", ""]))
        path.write_text("\n".join(lines) + "\n")
        return
    body = "".join(f'"{str(r["text"]).replace(chr(34), chr(34) * 2)}",{r["gold"]}\n' for r in records)
    raw = ("text,gold\n" + body).encode("utf-8", "surrogatepass")
    if generator.random() < 0.1:
        raw = raw.replace("é".encode(), b"\xe9")  # not UTF-8
    path.write_bytes(raw)


CASES = [(seed, kind, suffix) for seed in range(100) for kind, suffix in
         [("label", ".csv" if seed % 2 else ".jsonl"), ("score", ".jsonl" if seed % 2 else ".csv")]]


@pytest.mark.parametrize("seed, kind, suffix", CASES)
def test_a_malformed_own_file_is_read_or_refused_in_one_line(seed, kind, suffix, tmp_path):
    generator = random.Random(seed)
    path = tmp_path / f"data{suffix}"
    write(generator, path, kind, generator.randint(2, 30))
    task = "text-classification" if kind == "label" else "text-regression"
    config = RunConfig(task=task)
    for key, value in [("data.dataset", ""), ("data.train", str(path)), ("data.label", "gold"),
                       ("encoder.vectors", ""), ("encoder.vectors_vocab", 0)]:
        section, name = key.split(".")
        setattr(getattr(config, section), name, value)
    if generator.random() < 0.3:
        config.data.range = generator.choice(["0,1", "1,0", "0,inf", "a,b", "-1,1"])
    try:
        prepare_data([Member("", config)], config.encoder)
    except SeqtasksError as error:
        assert str(error) and "\n" not in str(error).strip()


VALUES = ["-1", "0", "1", "2", "0.5", "1.5", "nan", "inf", "-inf", "1e400", "", "x", "true", "none", "last",
          "attention", "median", "3,4"]


@pytest.mark.parametrize("seed", range(200))
def test_a_random_config_value_is_accepted_or_refused_in_one_line(seed):
    generator = random.Random(seed)
    key = generator.choice(valid_keys(RunConfig()) + ["train.nope", "nope", "encoder.", "data.text.x"])
    override = f"{key}={generator.choice(VALUES)}"
    try:
        resolve_config(generator.choice(["sst2", "text-classification", "conll-ner", "sick"]), None, [override])
    except SeqtasksError as error:
        assert str(error) and "\n" not in str(error).strip()


@pytest.mark.parametrize("seed", range(12))
def test_training_on_malformed_input_finishes_or_leaves_no_folder(seed, tmp_path, capsys):
    generator = random.Random(1000 + seed)
    path = tmp_path / ("data.csv" if seed % 2 else "data.jsonl")
    write(generator, path, "label", generator.randint(8, 30))
    setting = generator.choice(["train.lr=1e30", "train.epochs=1", "encoder.dropout=0.2", "head.pooling=max",
                                "train.batch_size=3", "data.min_freq=2"])
    code = main(["train", "text-classification", "--out", str(tmp_path / "run"), "--set", f"data.train={path}",
                 "--set", "data.label=gold", "--set", "encoder.vectors=", "--set", "encoder.hidden_size=8",
                 "--set", "train.epochs=1", "--set", "train.max_steps=3", "--set", setting])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 0:
        assert (tmp_path / "run" / "metrics.json").is_file()
    else:
        assert code == 2 and err.strip().splitlines()[-1].startswith("seqtasks train: error: ")
        assert not (tmp_path / "run").exists()
