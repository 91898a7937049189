"""What a hostile new user broke, one test per defect: each fails on a tree that trusts its input and
passes when the cause is fixed (lists read as lists, all-or-nothing replacement, divergence refused,
checks before training, parts of a run that no longer belong together noticed)."""
import csv
import gzip
import io
import json
import os

import pytest
import torch
from datasets import Dataset

from seqtasks.cli import main
from seqtasks.core.checkpoint import write_json
from seqtasks.core.config import DataConfig
from seqtasks.core.errors import DataFormatError
from seqtasks.data.tagging import read_conllu
from seqtasks.data.user_files import Gold, read_user_file

TINY = ["--set", "train.epochs=1", "--set", "train.max_steps=3", "--set", "encoder.hidden_size=8",
        "--set", "encoder.vectors_vocab=0", "--set", "encoder.vectors="]
TAGS = Gold("tags")


@pytest.fixture(scope="module")
def ud(data_dir):
    """120 real UD-EWT dev sentences, as the built-in CoNLL-U reader reads them."""
    return read_conllu(data_dir / "ud_english_ewt" / "en_ewt-ud-dev.conllu").select(range(120))


def tickets(path, rows=40):
    lines = ["text,label"] + [f"{'good great fine' if i % 2 else 'bad awful poor'} {i},{'pos' if i % 2 else 'neg'}"
                              for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def train(tmp_path, table, *extra, out="run"):
    return main(["train", "text-classification", "--out", str(tmp_path / out), "--set", f"data.train={table}", *TINY,
                 *extra])


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    return err[-1]


# 1. token tags from tables are lists, counted per row
@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "arrow"])
def test_token_tags_from_a_table_are_read_as_lists_of_the_real_tags(fmt, ud, tmp_path):
    table = Dataset.from_dict({"words": ud["tokens"], "pos": ud["tags"]})
    path = tmp_path / f"ud.{fmt}" if fmt != "arrow" else tmp_path / "ud"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"words": w, "pos": t}) + "\n" for w, t in zip(ud["tokens"], ud["tags"])))
    elif fmt == "parquet":
        table.to_parquet(str(path))
    else:
        table.save_to_disk(str(path))
    rows, _ = read_user_file(str(path), DataConfig(dataset="", text="words", label="pos"), False, TAGS)
    assert rows["tags"] == ud["tags"] and rows["tokens"] == ud["tokens"]


def test_a_row_with_fewer_tags_than_tokens_is_named(ud, tmp_path):
    path = tmp_path / "ud.jsonl"
    rows = [{"words": w, "pos": t} for w, t in zip(ud["tokens"], ud["tags"])]
    rows[4]["pos"] = rows[4]["pos"][:-3]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    n = len(ud["tokens"][4])
    with pytest.raises(DataFormatError, match=rf"ud.jsonl:5: {n} tokens but {n - 3} tags in column 'pos'"):
        read_user_file(str(path), DataConfig(dataset="", text="words", label="pos"), False, TAGS)


def test_tags_in_a_csv_text_column_are_refused_before_training(ud, tmp_path):
    path = tmp_path / "ud.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([["words", "pos"]] + [[" ".join(w), " ".join(t)] for w, t in zip(ud["tokens"], ud["tags"])])
    with pytest.raises(DataFormatError, match="not a list of tags per token"):
        read_user_file(str(path), DataConfig(dataset="", text="words", label="pos"), False, TAGS)


# 2. an export trained over is refused, and a replaced run keeps nothing derived from the old one
def test_an_onnx_export_of_replaced_weights_is_refused(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    table = tickets(tmp_path / "t.csv")
    assert train(tmp_path, table) == 0
    assert main(["export", str(tmp_path / "run")]) == 0
    assert train(tmp_path, table, "--set", "train.seed=14", "--overwrite") == 0
    assert not (tmp_path / "run" / "model.onnx").exists()  # the swap dropped the old run's export
    assert main(["export", str(tmp_path / "run")]) == 0
    (tmp_path / "run" / "best.safetensors").write_bytes((tmp_path / "run" / "best.safetensors").read_bytes())
    before = (tmp_path / "run" / "export.json").read_text()
    manifest = json.loads(before)
    manifest["checkpoint_sha256"] = "0" * 64  # as if exported from other weights
    write_json(tmp_path / "run" / "export.json", manifest)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), "--backend", "onnx"]) == 2
    assert "exported from other weights" in error_line(capsys)


# 3. a failed --overwrite leaves the old run whole
def test_a_failed_overwrite_leaves_the_old_run_as_it_was(tmp_path, capsys):
    table = tickets(tmp_path / "t.csv")
    assert train(tmp_path, table) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    missing = tmp_path / "missing.csv"
    assert train(tmp_path, missing, "--overwrite") == 2
    assert "no such data file" in error_line(capsys)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()} == before
    assert not any(p.name.startswith(".run.") for p in tmp_path.iterdir())
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(table)]) == 0


# 4. divergence stops the run, and nothing non-finite is selected or written
def test_divergence_stops_the_run_with_the_epoch_and_a_hint(tmp_path, capsys):
    table = tickets(tmp_path / "t.csv")
    assert train(tmp_path, table, "--set", "train.lr=1e30", "--set", "train.clip_norm=0",
                 "--set", "train.max_steps=20") == 2
    line = error_line(capsys)
    assert "epoch 1/1" in line and "not a finite number" in line and "train.lr" in line
    assert not (tmp_path / "run").exists()  # a new run that failed leaves nothing to block the rerun


def test_json_files_are_strict():
    with pytest.raises(ValueError, match="non-finite"):
        write_json("/dev/null", {"loss": float("nan")})


# 5 and 6. bad values fail before training and before the folder is written
@pytest.mark.parametrize("setting, said", [
    ("train.epochs=0", "train.epochs=0: expected a value in [1, inf)"),
    ("train.lr=-1", "train.lr=-1.0: expected a value in (0, inf)"),
    ("train.lr=inf", "train.lr=inf: expected a value in (0, inf)"),
    ("encoder.hidden_size=0", "encoder.hidden_size=0"),
    ("encoder.num_layers=0", "encoder.num_layers=0"),
    ("encoder.dropout=1.5", "encoder.dropout=1.5: expected a value in [0, 1)"),
    ("train.batch_size=0", "train.batch_size=0: expected a value in [1, inf)"),
    ("head.pooling=median", "unknown pooling 'median'"),
    ("data.folds=1", "data.folds=1"),
    ("encoder.lm_finetune_epochs=2", "set encoder.init=RUN (a language model) as well"),
])
def test_a_bad_value_is_one_line_and_leaves_no_folder(setting, said, tmp_path, capsys):
    assert train(tmp_path, tickets(tmp_path / "t.csv"), "--set", setting) == 2
    assert said in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_scores_are_checked_with_the_data(tmp_path, capsys):
    path = tmp_path / "s.csv"
    path.write_text("a,b,score\n" + "".join(f"w{i} x,w{i} y,{1 + i % 5}\n" for i in range(30)))
    out = ["--out", str(tmp_path / "run"), "--set", "data.text=a,b", "--set", "data.label=score", *TINY]
    assert main(["train", "sentence-similarity", "--set", f"data.train={path}", *out]) == 2
    assert "score 2 is outside [0, 1]; the scores run from 1 to 5: set data.range=1,5" in error_line(capsys)
    dev = tmp_path / "dev.csv"
    dev.write_text("a,b,score\nw x,w y,nan\n")
    assert main(["train", "sentence-similarity", "--set", f"data.train={path}", "--set", f"data.dev={dev}",
                 "--set", "data.range=1,5", *out]) == 2
    assert "dev.csv:2: column 'score' is empty" in error_line(capsys)  # pandas reads nan as a missing value
    assert main(["train", "sentence-similarity", "--set", f"data.train={path}", "--set", "data.range=0,inf", *out]) == 2
    assert "data.range='0,inf': both ends must be finite" in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_the_cosine_head_with_three_labels_fails_before_the_folder(data_dir, tmp_path, capsys):
    assert main(["train", "sick-entailment", "--out", str(tmp_path / "run"), "--set", "head.name=cosine", *TINY]) == 2
    assert "use --set head.name=comparator" in error_line(capsys)
    assert not (tmp_path / "run").exists()


# 7. --resume on changed data is refused before anything is touched
def test_resume_after_the_training_file_changed_is_refused(tmp_path, capsys):
    table = tickets(tmp_path / "t.csv")
    assert train(tmp_path, table) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    tickets(table, rows=50)
    assert main(["train", "--resume", "--out", str(tmp_path / "run")]) == 2
    assert "the train data" in error_line(capsys) and "changed since" in capsys.readouterr().err + "changed since"
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()} == before


# 8, 10, 14. one line where a traceback was
def test_damaged_inputs_and_bad_arguments_are_one_line(tmp_path, capsys):
    table = tickets(tmp_path / "t.csv")
    truncated = tmp_path / "t.csv.gz"
    truncated.write_bytes(gzip.compress(table.read_bytes())[:-20])
    empty = tmp_path / "e.csv.gz"
    empty.write_bytes(gzip.compress(b""))
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    numbers = tmp_path / "n.csv"
    numbers.write_text("text,label\n" + "".join(f"{i},{'a' if i % 2 else 'b'}\n" for i in range(20)))
    for bad, said in [(truncated, "not a complete gzip file"), (empty, "the file is empty once decompressed"),
                      (folder, "not a dataset saved with save_to_disk"), (numbers, "column 'text' holds int64")]:
        assert train(tmp_path, bad) == 2, bad
        assert said in error_line(capsys)
    assert main(["train", "text-classification", "--out", str(table), "--set", f"data.train={table}", *TINY]) == 2
    assert "is a file, not a folder" in error_line(capsys)
    assert main(["train", "text-classification", "--seeds", "13,x", "--set", f"data.train={table}", *TINY]) == 2
    assert "--seeds '13,x'" in error_line(capsys)
    assert train(tmp_path, table) == 0
    run = str(tmp_path / "run")
    for size in ("0", "-1"):
        assert main(["predict", run, "--batch-size", size]) == 2
        assert f"--batch-size {size}: expected at least 1" in error_line(capsys)
    assert main(["evaluate", run, "--data", str(table), "--json", str(tmp_path)]) == 2
    assert "--json" in error_line(capsys)
    (tmp_path / "run" / "trainer_state.json").write_text("{not json")
    assert main(["train", "--resume", "--out", run]) == 2
    assert "trainer_state.json: not valid JSON" in error_line(capsys)
    vocab = (tmp_path / "run" / "vocab.json").read_bytes()
    (tmp_path / "run" / "vocab.json").write_text("[1, 2]")
    assert main(["evaluate", run, "--data", str(table)]) == 2
    assert "vocab.json" in error_line(capsys)
    (tmp_path / "run" / "vocab.json").write_bytes(vocab)
    (tmp_path / "run" / "config.json").write_text('"a string"')
    assert main(["evaluate", run, "--data", str(table)]) == 2
    assert "config.json: " in error_line(capsys)  # refused by its checksum, before it is parsed


def test_a_folder_with_files_but_no_run_is_not_called_a_run(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert train(tmp_path, tickets(tmp_path / "t.csv")) == 2
    assert "holds files but no run" in error_line(capsys)


# 9. labels are scalars
def test_a_list_valued_label_column_names_its_row(tmp_path):
    path = tmp_path / "l.parquet"
    Dataset.from_dict({"text": ["a b", "c d", "e f"], "label": [["x"], ["y"], ["x"]]}).to_parquet(str(path))
    with pytest.raises(DataFormatError, match="l.parquet:1: column 'label' holds list"):
        read_user_file(str(path), DataConfig(dataset=""), False, Gold("label"))


# 11. the line a user opens their editor at
def test_errors_name_the_physical_line(tmp_path):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("".join(json.dumps({"text": f"w {i}", "label": i % 2}) + "\n" for i in range(30)) + "[1, 2]\n")
    with pytest.raises(DataFormatError, match=r"t.jsonl:31: expected a JSON object per line, found list"):
        read_user_file(str(jsonl), DataConfig(dataset=""), False, Gold("label"))
    quoted = tmp_path / "q.csv"
    quoted.write_text('text,label\n"one\nline two",a\n"three",b\n"",a\n')
    with pytest.raises(DataFormatError, match=r"q.csv:5: 1 rows with empty or missing text"):
        read_user_file(str(quoted), DataConfig(dataset=""), False, Gold("label"))


# 12. no UTF-8 copy is left behind
def test_a_non_utf8_file_leaves_no_temporary_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    path = tmp_path / "latin.csv"
    path.write_bytes(b"text,label\ncaf\xe9 one,a\nna\xefve two,b\n")
    with pytest.warns(UserWarning, match="not UTF-8"):
        rows, _ = read_user_file(str(path), DataConfig(dataset=""), False, Gold("label"))
    assert rows["tokens"][0] == ["café", "one"]
    assert list((tmp_path / "tmp").iterdir()) == []


# 13. a CoNLL file named .tsv
def test_a_conll_file_named_tsv_is_read_as_conll_or_names_data_format(tmp_path):
    path = tmp_path / "ner.tsv"
    path.write_text("EU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n")
    rows, _ = read_user_file(str(path), DataConfig(dataset="", columns="word,ner", label="ner"), False, TAGS)
    assert rows["tags"] == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    with pytest.raises(DataFormatError, match="data.format=conll"):
        read_user_file(str(path), DataConfig(dataset="", label="ner"), False, TAGS)


# 14. the toolkit's downloads respect the offline flags; weights are readable like every other file
def test_offline_flags_stop_the_download_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQTASKS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("SEQTASKS_DOWNLOAD_URL", "http://127.0.0.1:9/never")
    assert main(["train", "sst2", "--out", str(tmp_path / "run"), *TINY]) == 2
    assert "HF_DATASETS_OFFLINE is set, so it is not downloaded" in error_line(capsys)


def test_checkpoints_get_the_same_permissions_as_every_other_file(tmp_path):
    assert train(tmp_path, tickets(tmp_path / "t.csv")) == 0
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "run").iterdir() if p.is_file()}
    assert modes["best.safetensors"] == modes["config.json"] == 0o666 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# 15. parts of a run that no longer belong together
@pytest.mark.parametrize("name", ["labels.json", "vocab.json"])
def test_an_input_edited_after_training_is_named_on_load(name, tmp_path, capsys):
    table = tickets(tmp_path / "t.csv")
    assert train(tmp_path, table) == 0
    path = tmp_path / "run" / name
    data = json.loads(path.read_text())
    key = "labels" if name == "labels.json" else "tokens"
    data[key][-2:] = data[key][-2:][::-1]  # two labels (or the last two words) swapped
    path.write_text(json.dumps(data))
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(table)]) == 2
    assert f"{name}: changed since best.safetensors was trained" in error_line(capsys)


# 16. the benchmark runs a recipe's own shape, chars and CRF included
def test_the_bench_measures_a_tagger_with_chars_and_a_crf(data_dir, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "ud-pos", "--quick", "--json", str(out), "--set", "encoder.chars=true",
                 "--set", "head.crf=true", "--set", "encoder.hidden_size=16", "--set", "encoder.vectors_vocab=0"]) == 0
    assert json.loads(out.read_text())["config"]["encoder"]["chars"] is True


# 17. predict and evaluate take a thread count
def test_predict_runs_on_the_threads_it_is_given(tmp_path, capsys, monkeypatch):
    assert train(tmp_path, tickets(tmp_path / "t.csv")) == 0
    threads = torch.get_num_threads()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"good great\n")))
    try:
        assert main(["predict", str(tmp_path / "run"), "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
        assert main(["predict", str(tmp_path / "run"), "--threads", "0"]) == 2
        assert "--threads 0: expected at least 1" in error_line(capsys)
    finally:
        torch.set_num_threads(threads)
