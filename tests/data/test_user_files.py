"""Your own data: slices of the shared datasets converted to every supported format read back as the
built-in readers read them, train/evaluate/predict round trips per task kind, and one test per bad input."""
import csv
import io
import json

import pytest
from datasets import Dataset

from seqtasks.cli import main
from seqtasks.core.config import DataConfig
from seqtasks.core.errors import ConfigError, DataFormatError, DataNotFoundError
from seqtasks.data.pairs import PAIR_READERS
from seqtasks.data.readers import read_labeled_lines
from seqtasks.data.tagging import read_conllu
from seqtasks.data.user_files import Gold, read_user_file
from seqtasks.data.vocab import Vocab

ROWS = 300
LABEL = Gold("label")
SMOKE = ["--set=train.epochs=1", "--set=train.max_steps=3", "--set=encoder.hidden_size=8", "--set=encoder.vectors_vocab=0"]


@pytest.fixture(scope="module")
def sst2(data_dir):
    return read_labeled_lines(data_dir / "sst2" / "stsa.binary.dev").select(range(ROWS))


def write_csv(path, header, rows, delimiter=","):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_sst2_in_every_format_reads_as_the_builtin_reader(fmt, sst2, tmp_path):
    path = tmp_path / f"sst2.{fmt}"
    if fmt == "csv":
        write_csv(path, ["body", "team"], [[" ".join(t), label] for t, label in zip(sst2["tokens"], sst2["label"])])
        data = DataConfig(dataset="", text="body", label="team", tokenizer="whitespace")
    else:
        table = Dataset.from_dict({"text": sst2["tokens"], "label": [int(x) for x in sst2["label"]]})
        table.to_json(path) if fmt == "jsonl" else table.to_parquet(path)
        data = DataConfig(dataset="")
    rows, _ = read_user_file(str(path), data, pair=False, gold=LABEL)
    assert rows["tokens"] == sst2["tokens"] and rows["label"] == sst2["label"]
    assert Vocab.build(rows["tokens"]).tokens == Vocab.build(sst2["tokens"]).tokens


def test_conll_columns_and_tsv_pairs_read_as_the_builtin_readers(data_dir, tmp_path):
    pos = read_conllu(data_dir / "ud_english_ewt" / "en_ewt-ud-dev.conllu").select(range(ROWS))
    path = tmp_path / "pos.conll"
    path.write_text("".join("".join(f"{w}\t{t}\n" for w, t in zip(ws, ts)) + "\n"
                            for ws, ts in zip(pos["tokens"], pos["tags"])))
    rows, tokenizer = read_user_file(str(path), DataConfig(dataset="", columns="word,upos", label="upos"), False,
                                     Gold("tags"))
    assert rows["tokens"] == pos["tokens"] and rows["tags"] == pos["tags"] and tokenizer == "whitespace"
    sick = PAIR_READERS["sick"](data_dir / "sick" / "SICK_trial.txt").select(range(ROWS))
    path = write_csv(tmp_path / "sick.tsv", ["s1", "s2", "score"],
                     [[" ".join(a), " ".join(b), 1 + 4 * s] for a, b, s in zip(sick["tokens"], sick["tokens_b"],
                                                                                sick["score"])], delimiter="\t")
    rows, _ = read_user_file(str(path), DataConfig(dataset="", text="s1,s2", label="score", range="1,5"), True,
                             Gold("score", (1.0, 5.0)))
    assert rows["tokens"] == sick["tokens"] and rows["tokens_b"] == sick["tokens_b"]
    assert rows["score"] == pytest.approx(sick["score"])


@pytest.mark.parametrize("recipe,columns,record_keys", [
    ("text-classification", ["--set=data.text=body", "--set=data.label=team"], {"label", "probabilities"}),
    ("pair-classification", ["--set=data.text=a,b", "--set=data.label=same"], {"label", "probabilities", "cosine"}),
    ("sentence-similarity", ["--set=data.text=a,b", "--set=data.label=score", "--set=data.range=0,5"], {"score"}),
    ("token-classification", ["--set=data.columns=word,upos", "--set=data.label=upos"], {"tags"}),
])
def test_train_evaluate_predict_round_trip_for_every_task_kind(recipe, columns, record_keys, sst2, data_dir, tmp_path,
                                                               monkeypatch, capsys):
    texts = [" ".join(t) for t in sst2["tokens"]]
    if recipe == "text-classification":
        path = write_csv(tmp_path / "f.csv", ["body", "team"], zip(texts, sst2["label"]))
        line = texts[0]
    elif recipe == "token-classification":
        pos = read_conllu(data_dir / "ud_english_ewt" / "en_ewt-ud-dev.conllu").select(range(ROWS))
        path = tmp_path / "f.conll"
        path.write_text("".join("".join(f"{w} {t}\n" for w, t in zip(ws, ts)) + "\n"
                                for ws, ts in zip(pos["tokens"], pos["tags"])))
        line = "The cat sat ."
    else:
        gold = ["score", [i % 6 for i in range(ROWS)]] if recipe == "sentence-similarity" else ["same", sst2["label"]]
        path = write_csv(tmp_path / "f.csv", ["a", "b", gold[0]], zip(texts, reversed(texts), gold[1]))
        line = f"{texts[0]}\t{texts[1]}"
    out = tmp_path / "run"
    assert main(["train", recipe, "--out", str(out), f"--set=data.train={path}", *columns, *SMOKE]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data_summary"]["dev_rows"] == len(metrics["data"]["dev"]["lines"])  # carved from train
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", str(path)]) == 0
    assert "n=" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((line + "\n").encode())))
    assert main(["predict", str(out)]) == 0
    assert record_keys <= set(json.loads(capsys.readouterr().out))


def train_error(tmp_path, capsys, *overrides) -> str:
    out = tmp_path / "run"
    assert main(["train", "text-classification", "--out", str(out), *(f"--set={o}" for o in overrides), *SMOKE]) == 2
    assert not out.exists()  # nothing written before the data was read and checked
    return capsys.readouterr().err.strip()


def test_a_missing_column_lists_the_columns_there_are(tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", ["body", "team"], [["a b", "x"], ["c", "y"]])
    assert train_error(tmp_path, capsys, f"data.train={path}", "data.text=txt") == (
        f"seqtasks train: error: {path}:1: no column 'txt'; the columns are: body, team")


def test_an_empty_file_or_no_rows_is_an_error(tmp_path, capsys):
    empty = tmp_path / "e.csv"
    empty.write_text("")
    assert train_error(tmp_path, capsys, f"data.train={empty}").endswith("e.csv:1: the file is empty")
    header = write_csv(tmp_path / "h.csv", ["text", "label"], [])
    assert train_error(tmp_path, capsys, f"data.train={header}").endswith("h.csv:2: no rows")


def test_rows_with_empty_text_fail_or_are_skipped_with_a_count(tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", ["text", "label"], [["good", "x"], ["", "y"], ["bad", "y"], ["", "x"],
                                                              ["fine", "x"], ["poor", "y"]])
    assert train_error(tmp_path, capsys, f"data.train={path}").endswith(
        "t.csv:3: 2 rows with empty or missing text (lines 3, 5); fix them or set data.skip_bad_rows=true")
    with pytest.warns(UserWarning, match="skipped 2 rows with empty or missing text"):
        rows, _ = read_user_file(str(path), DataConfig(dataset="", skip_bad_rows=True), False, LABEL)
    assert rows["line"] == [2, 4, 6, 7]


def test_label_problems_name_the_row(tmp_path, capsys):
    one = write_csv(tmp_path / "one.csv", ["text", "label"], [["a", "x"], ["b", "x"]])
    assert "one.csv:2: column 'label' holds a single label ('x')" in train_error(tmp_path, capsys, f"data.train={one}")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": "one"}\n')
    with pytest.raises(DataFormatError, match=r"mixed.jsonl:2: column 'label' mixes label types \['int', 'str'\] \(1 and 'one'\)"):
        read_user_file(str(mixed), DataConfig(dataset=""), False, LABEL)


def test_scores_must_be_numbers_inside_the_range(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["a", "b", "score"], [["x", "y", "2.5"], ["x", "z", "high"]])
    data = DataConfig(dataset="", text="a,b", label="score", range="0,5")
    with pytest.raises(DataFormatError, match=r"s.csv:3: column 'score': score 'high' is not a number"):
        read_user_file(str(path), data, True, Gold("score", (0.0, 5.0)))
    path = write_csv(tmp_path / "s.csv", ["a", "b", "score"], [["x", "y", "2.5"], ["x", "z", "7"]])
    with pytest.raises(DataFormatError, match=r"s.csv:3: column 'score': score 7.0 is outside data.range=0,5"):
        read_user_file(str(path), data, True, Gold("score", (0.0, 5.0)))


def test_a_conll_line_with_the_wrong_number_of_columns_names_its_line(tmp_path):
    path = tmp_path / "t.conll"
    path.write_text("The DET\ncat NOUN\n\nA DET extra\n")
    with pytest.raises(DataFormatError, match=r"t.conll:4: expected 2 columns \(word, upos\), found 3"):
        read_user_file(str(path), DataConfig(dataset="", columns="word,upos", label="upos"), False, Gold("tags"))


def test_a_label_the_model_never_saw_is_an_error_at_evaluation(sst2, tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", ["text", "label"], zip([" ".join(t) for t in sst2["tokens"]], sst2["label"]))
    out = tmp_path / "run"
    assert main(["train", "text-classification", "--out", str(out), f"--set=data.train={path}", *SMOKE]) == 0
    other = write_csv(tmp_path / "o.csv", ["text", "label"], [["a film", "1"], ["a bad film", "neutral"]])
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", str(other)]) == 2
    assert "o.csv:3: labels ['neutral'] are not in the trained label set ['0', '1']" in capsys.readouterr().err


def test_a_hub_id_offline_is_one_clear_line_and_a_saved_folder_loads(sst2, tmp_path):
    with pytest.raises(DataNotFoundError, match="no-such-user/no-such-set: no such file or folder; read as a Hugging "
                                                "Face Hub id, loading it failed too"):
        read_user_file("no-such-user/no-such-set", DataConfig(dataset=""), False, LABEL)
    Dataset.from_dict({"text": sst2["tokens"], "label": sst2["label"]}).save_to_disk(tmp_path / "saved")
    rows, _ = read_user_file(str(tmp_path / "saved"), DataConfig(dataset=""), False, LABEL)
    assert rows["tokens"] == sst2["tokens"]


def test_an_unknown_extension_asks_for_data_format(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_text("x")
    with pytest.raises(ConfigError, match="set data.format"):
        read_user_file(str(path), DataConfig(dataset=""), False, LABEL)


def test_a_toml_config_trains_and_a_runs_config_json_reruns_it_exactly(sst2, tmp_path):
    import seqtasks

    path = write_csv(tmp_path / "t.csv", ["body", "team"], zip([" ".join(t) for t in sst2["tokens"]], sst2["label"]))
    toml = tmp_path / "my_run.toml"
    toml.write_text(f'recipe = "text-classification"\n[data]\ntrain = "{path}"\ntext = "body"\nlabel = "team"\n'
                    '[train]\nepochs = 1\nmax_steps = 3\n[encoder]\nhidden_size = 8\n')
    first = seqtasks.train(str(toml), out=tmp_path / "a")
    again = seqtasks.train(str(tmp_path / "a" / "config.json"), out=tmp_path / "b")
    assert first.metrics["dev"] == again.metrics["dev"]
    assert first.evaluate(path)["n"] == ROWS
    assert first.predict(["a fine film"])[0]["label"] in {"0", "1"}


def test_non_utf8_is_decoded_once_with_a_warning_and_predict_writes_valid_utf8(sst2, tmp_path, monkeypatch, capsys):
    path = tmp_path / "latin.csv"
    rows = [[" ".join(t), label] for t, label in zip(sst2["tokens"], sst2["label"])]
    rows[5][0] = "un film na\xefve au caf\xe9"
    path.write_bytes(("text,label\n" + "".join(f'"{t}",{label}\n' for t, label in rows)).encode("cp1252"))
    with pytest.warns(UserWarning, match=r"latin.csv:7: not UTF-8; the file is decoded line by line as Windows-1252"):
        read, _ = read_user_file(str(path), DataConfig(dataset=""), False, LABEL)
    assert read["tokens"][5] == ["un", "film", "naïve", "au", "café"]
    out = tmp_path / "run"
    assert main(["train", "text-classification", "--out", str(out), f"--set=data.train={path}", *SMOKE]) == 0
    capsys.readouterr()

    class Stdin:
        buffer = (b"caf\xe9 na\xefve\n", "été\n".encode())

    monkeypatch.setattr("sys.stdin", Stdin)
    assert main(["predict", str(out)]) == 0
    texts = [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()]
    assert texts == ["café naïve", "été"]


def test_predict_csv_adds_prediction_columns_to_the_input_rows(sst2, tmp_path, monkeypatch, capsys):
    path = write_csv(tmp_path / "t.csv", ["body", "team"], zip([" ".join(t) for t in sst2["tokens"]], sst2["label"]))
    out = tmp_path / "run"
    assert main(["train", "text-classification", "--out", str(out), f"--set=data.train={path}",
                 "--set=data.text=body", "--set=data.label=team", *SMOKE]) == 0
    capsys.readouterr()

    class Stdin:
        buffer = (b"id,body\n", b"7,a fine film\n", b'8,"a dull, dull film"\n')

    monkeypatch.setattr("sys.stdin", Stdin)
    assert main(["predict", str(out), "--format", "csv"]) == 0
    written = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [r["id"] for r in written] == ["7", "8"] and written[1]["body"] == "a dull, dull film"
    assert {r["label"] for r in written} <= {"0", "1"} and 0.5 <= float(written[0]["probability"]) <= 1


def test_a_gold_tag_sequence_invalid_for_its_scheme_names_the_sentence(tmp_path):
    from seqtasks.data.vocab import LabelSet
    from seqtasks.tasks import get_task

    path = tmp_path / "t.conll"
    path.write_text("Ann B-PER\nLee I-PER\n\nin O\nParis I-LOC\n")
    rows, _ = read_user_file(str(path), DataConfig(dataset="", columns="word,ner", label="ner"), False, Gold("tags"))
    task = get_task("token-classification")
    labels = LabelSet.build(task.label_values(rows))
    with pytest.raises(DataFormatError, match=r"t.conll:4: tag 'I-LOC' after O \(token 2\) is not valid BIO; if the "
                                              r"file is IOB1, set data.tag_scheme=BIO"):
        task.encode(rows, Vocab.build(rows["tokens"]), labels, str(path))


def test_gzipped_files_read_and_too_few_rows_to_carve_a_dev_split_is_an_error(sst2, tmp_path, capsys):
    import gzip

    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(("text,label\n" + "".join(f'"{" ".join(t)}",{label}\n' for t, label in
                                                              zip(sst2["tokens"], sst2["label"]))).encode()))
    rows, _ = read_user_file(str(path), DataConfig(dataset=""), False, LABEL)
    assert rows["label"] == sst2["label"]
    tiny = write_csv(tmp_path / "tiny.csv", ["text", "label"], [["a b", "x"], ["c d", "y"]])
    assert "tiny.csv:1: cannot carve a 10% dev split from 2 rows" in train_error(tmp_path, capsys, f"data.train={tiny}")
