"""End to end through the command line, on the real SST-2 files, for a few steps."""
import io
import json
from importlib import metadata

import pytest
import torch

from seqtasks import LSTMEncoder
from seqtasks.cli import main

FEW_STEPS = ["--set", "train.epochs=1", "--set", "train.max_steps=3", "--set", "encoder.hidden_size=16"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("runs") / "sst2"
    assert main(["train", "sst2", "--out", str(out), *FEW_STEPS]) == 0
    return out


def test_train_writes_a_reproducible_run_folder(run_dir, data_dir):
    for name in ("config.json", "vocab.json", "labels.json", "best.safetensors", "log.jsonl", "curve.png"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["dev"]["accuracy"] <= 1.0 and metrics["dev"]["n"] == 872
    assert metrics["seed"] == metrics["config"]["train"]["seed"]
    manifest = json.loads((data_dir / "sst2" / "MANIFEST.json").read_text())
    assert metrics["data"]["train"]["sha256"] == manifest["splits"]["train"]["sha256"]
    assert metrics["versions"]["torch"] == metadata.version("torch")
    assert metrics["vectors"]["name"] == "glove-6b-50d" and len(metrics["vectors"]["sha256"]) == 64


def test_evaluate_scores_the_original_file(run_dir, data_dir, tmp_path):
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(run_dir), "--data", str(data_dir / "sst2" / "stsa.binary.dev"),
                 "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    dev = json.loads((run_dir / "metrics.json").read_text())["dev"]
    assert scores["n"] == 872
    assert scores["accuracy"] == pytest.approx(dev["accuracy"]) and scores["macro_f1"] == pytest.approx(dev["macro_f1"])


def test_evaluate_rejects_labels_outside_the_label_set(run_dir, data_dir, capsys):
    assert main(["evaluate", str(run_dir), "--data", str(data_dir / "sst5" / "stsa.fine.dev")]) == 2
    assert "labels ['2', '3', '4'] are not in the trained label set ['0', '1']" in capsys.readouterr().err


def test_predict_writes_one_json_line_per_input(run_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(
        ("a gorgeous , witty film\n\nboring\n" + "word " * 600 + "\n").encode())))
    assert main(["predict", str(run_dir)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 4 and records[3]["error"] == "600 tokens, more than data.max_tokens=512"
    assert [r.get("label") for r in records][1] is None and records[1]["error"] == "empty input"
    assert records[0]["label"] in {"0", "1"} and sum(records[2]["probabilities"].values()) == pytest.approx(1, abs=1e-5)


def test_from_pretrained_encodes_raw_text(run_dir):
    encoder = LSTMEncoder.from_pretrained(run_dir)
    texts = ["a gorgeous , witty film", "dull"]
    out = encoder.encode(texts)
    assert out.final.shape == (2, encoder.output_size) and out.mask.sum().item() == 6
    torch.testing.assert_close(out.final[1], encoder.encode(["dull"]).final[0])


def test_unknown_set_key_fails_listing_valid_keys(tmp_path, capsys):
    assert main(["train", "sst2", "--out", str(tmp_path / "x"), "--set", "train.learnin_rate=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'train.learnin_rate'" in err and "train.lr" in err


def test_existing_run_is_not_overwritten(run_dir, capsys):
    assert main(["train", "sst2", "--out", str(run_dir)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_recipes_lists_every_recipe(capsys):
    from recipes import RECIPES

    assert main(["recipes"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert listed == RECIPES


def test_diagnose_writes_gradient_flow_and_gate_stats(run_dir, data_dir, tmp_path):
    out = tmp_path / "diag"
    assert main(["diagnose", str(run_dir), "--data", str(data_dir / "sst2" / "stsa.binary.dev"),
                 "--examples", "16", "--out", str(out)]) == 0
    report = json.loads((out / "diagnostics.json").read_text())
    assert [f["direction"] for f in report["gradient_flow"]] == ["forward", "backward"]
    assert {g["gate"] for g in report["gates"]} == {"f", "i", "o"}
    assert all(0.0 <= g["saturation"] <= 1.0 and 0.0 < g["mean"] < 1.0 for g in report["gates"])
    assert (out / "gradient_flow.png").is_file() and (out / "gates.png").is_file()


@pytest.mark.parametrize("recipe,file,metric", [("ud-pos", "ud_english_ewt/en_ewt-ud-dev.conllu", "accuracy"),
                                                ("conll-ner", "conll2003/eng.testa", "f1")])
def test_tagging_recipes_train_and_evaluate_original_files(recipe, file, metric, data_dir, tmp_path):
    out = tmp_path / recipe
    assert main(["train", recipe, "--out", str(out), *FEW_STEPS]) == 0
    trained = json.loads((out / "metrics.json").read_text())["dev"]
    assert main(["evaluate", str(out), "--data", str(data_dir / file), "--json", str(tmp_path / "e.json")]) == 0
    scores = json.loads((tmp_path / "e.json").read_text())
    assert scores[metric] == pytest.approx(trained[metric]) and 0.0 <= scores[metric] <= 1.0
    assert scores["n"] == {"ud-pos": 2001, "conll-ner": 3250}[recipe]


@pytest.mark.parametrize("recipe,file,keys,n", [("sick", "sick/SICK_trial.txt", {"pearson", "spearman", "mse"}, 500),
                                                ("mrpc", "mrpc/msr-para-val.tsv", {"accuracy", "f1"}, 500)])
def test_matching_recipes_train_evaluate_and_compare_raw_text(recipe, file, keys, n, data_dir, tmp_path,
                                                             monkeypatch, capsys):
    from seqtasks.engine.run import load_run

    out = tmp_path / recipe
    assert main(["train", recipe, "--out", str(out), *FEW_STEPS]) == 0
    assert main(["evaluate", str(out), "--data", str(data_dir / file), "--json", str(tmp_path / "e.json")]) == 0
    scores = json.loads((tmp_path / "e.json").read_text())
    assert keys <= set(scores) and scores["n"] == n
    model = load_run(out).model
    texts = ["A man is playing a guitar.", "Nobody is playing."]
    vectors = model.embed(texts)
    assert vectors.shape == (2, model.encoder.output_size)
    cosine = model.similarity(texts, texts[::-1])
    torch.testing.assert_close(cosine[0], torch.nn.functional.cosine_similarity(vectors[0], vectors[1], dim=0))
    torch.testing.assert_close(model.similarity(texts, texts), torch.ones(2))

    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(
        f"{texts[0]}\t{texts[1]}\nno tab here\n{texts[0]}\t \n".encode())))
    assert main(["predict", str(out)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 3 and "tab-separated" in records[1]["error"] and "text b: empty" in records[2]["error"]
    assert records[0]["cosine"] == pytest.approx(cosine[0].item(), abs=1e-5)
    if recipe == "mrpc":
        assert records[0]["label"] in model.head.labels and 0.0 <= records[0]["probabilities"][records[0]["label"]] <= 1.0
    else:
        assert records[0]["score"] == pytest.approx(model.head.score(cosine[0]).item(), abs=1e-5)


def test_explain_prints_each_tokens_weight_and_evaluate_writes_the_worst_examples(data_dir, tmp_path, capsys):
    out = tmp_path / "attn"
    assert main(["train", "sst2", "--out", str(out), *FEW_STEPS, "--set", "head.pooling=attention"]) == 0
    capsys.readouterr()
    assert main(["explain", str(out), "a gripping , funny film", "--png", str(tmp_path / "w.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("prediction: ")
    rows = [line.split() for line in lines[1:6]]
    assert [r[0] for r in rows] == ["a", "gripping", ",", "funny", "film"]
    assert sum(float(r[1]) for r in rows) == pytest.approx(1.0, abs=1e-2)
    assert (tmp_path / "w.png").stat().st_size > 0
    page = tmp_path / "worst.html"
    assert main(["evaluate", str(out), "--data", str(data_dir / "sst2" / "stsa.binary.dev"), "--explain", "4",
                 "--explain-out", str(page)]) == 0
    text = page.read_text()
    assert text.count("class='ex'") == 4 and "rgba(220,40,40,1.00)" in text


def test_explain_on_a_run_without_attention_says_how_to_get_one(tmp_path, data_dir, capsys):
    out = tmp_path / "sst2-last"
    assert main(["train", "sst2", "--out", str(out), *FEW_STEPS, "--set", "head.pooling=last",
                 "--set", "encoder.vectors=", "--set", "encoder.vectors_vocab=0"]) == 0
    assert main(["explain", str(out), "a film"]) == 2
    assert "head.pooling=attention" in capsys.readouterr().err


def test_compare_pooling_writes_a_table_and_plot_and_resumes(tmp_path, data_dir, capsys):
    out = tmp_path / "cmp"
    smoke = ["--set", "tasks=sst2,sick,mrpc", "--set", "poolings=last,attention", "--set", "seeds=1,2",
             "--set", "epochs=1", "--set", "max_steps=3"]
    assert main(["train", "compare-pooling", "--out", str(out), *smoke]) == 0
    record = json.loads((out / "metrics.json").read_text())
    rows = {(r["task"], r["pooling"]): r for r in record["results"]}
    assert set(rows) == {(task, pooling) for task in ("sst2", "sick", "mrpc") for pooling in ("last", "attention")}
    assert rows[("sick", "last")]["metric"] == "pearson" and len(rows[("sst2", "attention")]["scores"]) == 2
    assert rows[("mrpc", "attention")]["metric"] == "accuracy"  # each task's own selection metric
    table = (out / "results.md").read_text()
    assert "| sst2 (accuracy) |" in table and "±" in table and (out / "pooling.png").stat().st_size > 0
    (out / "sst2" / "last" / "seed-1" / "metrics.json").unlink()  # as if killed during that run
    capsys.readouterr()
    assert main(["train", "compare-pooling", "--out", str(out), "--resume"]) == 0
    log = capsys.readouterr().out
    assert "sst2, pooling=last, seed=1" in log and "seed=2" not in log


def test_a_bug_keeps_its_traceback_while_a_user_error_is_one_line(monkeypatch, capsys):
    def broken(args):
        raise KeyError("internal")

    monkeypatch.setitem(__import__("seqtasks.cli").cli.COMMANDS, "recipes", broken)
    with pytest.raises(KeyError, match="internal"):
        main(["recipes"])
    assert main(["train", "no-such-recipe"]) == 2
    assert capsys.readouterr().err.startswith("seqtasks train: error: unknown recipe 'no-such-recipe'; recipes: sst2")


def test_seeds_trains_one_run_per_seed_and_writes_mean_and_std(tmp_path, data_dir, capsys):
    out = tmp_path / "sst2"
    assert main(["train", "sst2", "--out", str(out), "--seeds", "1,2", *FEW_STEPS]) == 0
    summary = json.loads((out / "seeds.json").read_text())["summary"]
    runs = [json.loads((out / f"seed-{s}" / "metrics.json").read_text())["dev"]["accuracy"] for s in (1, 2)]
    assert summary["accuracy"]["values"] == runs and summary["accuracy"]["mean"] == pytest.approx(sum(runs) / 2)
    assert "sst2 over seeds 1,2: accuracy" in capsys.readouterr().out
