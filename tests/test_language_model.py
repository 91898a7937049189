"""The language-model task: the encoder's own biLM objective, with no path from a predicted token to
its prediction, perplexities checked against the full softmax, exact resume, and a classifier that
starts from the pretrained encoder."""
import gzip
import io
import json
import math
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file

from recipes import multi_task
from seqtasks.cli import main
from seqtasks.core.config import DataConfig, EncoderConfig, HeadConfig, RunConfig
from seqtasks.core.errors import ConfigError
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.engine.run import RunFolder, load_run, load_run_config
from seqtasks.tasks import build_model, get_task

LM = get_task("language-model")
SMALL = ["--set", "encoder.vectors=", "--set", "encoder.hidden_size=16", "--set", "encoder.embedding_dim=8",
         "--set", "train.epochs=2", "--set", "train.threads=1"]


def corpus(path, data_dir, rows=400, gz=False):
    lines = [line.split(" ", 1)[1] for line in (data_dir / "sst2" / "stsa.binary.dev").read_text(
        encoding="utf-8", errors="replace").splitlines()[:rows]]
    text = "\n".join(lines) + "\n\n"  # a blank line, as corpora have
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return lines


def tiny_model(chars=False, num_layers=1):
    vocab = Vocab(["<pad>", "<unk>", *[f"w{i}" for i in range(30)]])
    cell = "separate_stacks" if num_layers > 1 else "lstm"
    config = RunConfig(task="language-model", encoder=EncoderConfig(embedding_dim=6, hidden_size=5, dropout=0.0,
                                                                    vectors="", chars=chars, char_features=4,
                                                                    num_layers=num_layers, cell=cell),
                       head=HeadConfig(name="language-model", dropout=0.0))
    torch.manual_seed(0)
    return build_model(config, len(vocab), vocab.tokens[:20]).eval(), vocab


@pytest.mark.parametrize("chars,num_layers", [(False, 1), (True, 1), (False, 2), (True, 2)])
def test_no_token_reaches_its_own_prediction(chars, num_layers):
    """Changing token t+1 leaves the forward distribution at t unchanged, and changing token t-1 the
    backward distribution at t; changing token t itself moves both (so the check can fail). Two layers
    are separate forward and backward stacks."""
    model, vocab = tiny_model(chars, num_layers)
    rows = Dataset.from_dict({"tokens": [["w1", "w2", "w3", "w4", "w5", "w6"]], "line": [1]})

    def distributions(tokens):
        split = LM.encode(rows.map(lambda _: {"tokens": tokens}), vocab, None, "rows", chars=chars)
        batch = split.batch(torch.arange(1))
        states = model.encode(batch).states[0]  # [T, 2H]
        hidden = model.head.hidden
        return (model.head.softmax.log_prob(states[:, :hidden]), model.head.softmax.log_prob(states[:, hidden:]))

    t = 2
    forward, backward = distributions(["w1", "w2", "w3", "w4", "w5", "w6"])
    changed_next = distributions(["w1", "w2", "w3", "w9", "w5", "w6"])  # token t+1
    changed_previous = distributions(["w1", "w9", "w3", "w4", "w5", "w6"])  # token t-1
    changed_self = distributions(["w1", "w2", "w9", "w4", "w5", "w6"])  # token t
    torch.testing.assert_close(changed_next[0][t], forward[t])
    torch.testing.assert_close(changed_previous[1][t], backward[t])
    assert not torch.allclose(changed_self[0][t], forward[t]) and not torch.allclose(changed_self[1][t], backward[t])


def test_row_log_likelihood_equals_the_full_softmax_by_hand():
    model, vocab = tiny_model()
    rows = Dataset.from_dict({"tokens": [["w1", "w25", "w3"], ["w4", "w5"], ["w7"]], "line": [1, 2, 3]})
    split = LM.encode(rows, vocab, None, "rows")
    batch = split.batch(torch.arange(3))
    with torch.no_grad():
        out = model(batch)
        states = model.encode(batch).states
    hidden = model.head.hidden
    for row, tokens in enumerate(rows["tokens"]):
        ids = [min(i, 19) if i < 20 else 1 for i in vocab.encode(tokens)]  # w25 is past the 20 output words
        forward = sum(float(model.head.softmax.log_prob(states[row, t, :hidden][None])[0, ids[t + 1]])
                      for t in range(len(ids) - 1))
        backward = sum(float(model.head.softmax.log_prob(states[row, t, hidden:][None])[0, ids[t - 1]])
                       for t in range(1, len(ids)))
        assert out.value[row].tolist() == pytest.approx([forward, backward], abs=1e-5)


def test_a_batch_of_one_token_rows_steps_with_the_encoder_frozen():
    """Such a batch has nothing to predict; with the encoder frozen (encoder.freeze_epochs) its zero loss
    must still be one that backward accepts, or fine-tuning a language model on UD-EWT's text stops."""
    model, vocab = tiny_model()
    model.train()
    for parameter in model.encoder.parameters():
        parameter.requires_grad_(False)
    rows = Dataset.from_dict({"tokens": [["w1"], ["w2"]], "line": [1, 2]})
    out = model(LM.encode(rows, vocab, None, "rows").batch(torch.arange(2)))
    out.loss.backward()
    assert float(out.loss) == 0.0 and out.value.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert all(p.grad is not None and not p.grad.any() for p in model.head.softmax.parameters())


def test_trains_on_a_gzipped_text_file_and_predicts_each_lines_perplexity(data_dir, tmp_path, capsys, monkeypatch):
    lines = corpus(tmp_path / "corpus.txt.gz", data_dir, gz=True)
    run = tmp_path / "lm"
    assert main(["train", "language-model", "--out", str(run), "--set", f"data.train={tmp_path / 'corpus.txt.gz'}",
                 *SMALL]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["selected_on"] == "dev perplexity" and metrics["data_summary"]["train_rows"] == 360
    history = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    best = min(history, key=lambda row: row["dev"]["perplexity"])
    assert metrics["best_epoch"] == best["epoch"] and metrics["dev"] == pytest.approx(best["dev"])
    assert 1 < metrics["dev"]["perplexity_forward"] < len(json.loads((run / "labels.json").read_text())["labels"])
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(f"{lines[0]}\nword\n".encode())))
    assert main(["predict", str(run)]) == 0
    first, single = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    loaded = load_run(run)
    split = LM.encode(Dataset.from_dict({"tokens": [lines[0].split()], "line": [1]}), loaded.vocab, None, "x")
    total = LM.predictions(loaded.model, split)[0]
    predicted = len(lines[0].split()) - 1
    assert first["perplexity"] == pytest.approx(math.exp(-float(total.sum()) / (2 * predicted)), rel=1e-3)
    assert single == {"text": "word", "tokens": 1, "perplexity": None}


def test_a_tied_softmax_scores_the_frequent_words_with_the_input_embedding(data_dir, tmp_path, capsys):
    """States as wide as the embedding tie by default: the frequent words' logits are the states times their
    embedding rows, before and after a run is saved and loaded, and the embedding is saved once.
    head.tie_embedding=false unties them; =true at a width that cannot tie is one line before any folder."""
    corpus(tmp_path / "corpus.txt", data_dir, rows=200)
    args = ["train", "language-model", "--set", f"data.train={tmp_path / 'corpus.txt'}", *SMALL]
    assert main([*args, "--set", "head.tie_embedding=true", "--out", str(tmp_path / "wide")]) == 2
    assert "set encoder.hidden_size=8" in capsys.readouterr().err and not (tmp_path / "wide").exists()
    assert "head.softmax.head.weight" in load_run_weights(args, tmp_path / "wide-untied")  # 16 units: untied
    narrow = [*args, "--set", "encoder.hidden_size=8"]
    assert "head.softmax.head.weight" in load_run_weights([*narrow, "--set", "head.tie_embedding=false"],
                                                          tmp_path / "untied")
    config = json.loads((tmp_path / "untied" / "config.json").read_text())
    del config["head"]["tie_embedding"]  # a run from before the setting existed: untied at any width
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "config.json").write_text(json.dumps(config))
    assert load_run_config(RunFolder(tmp_path / "legacy"), LabelSet([])).head.tie_embedding is False
    assert main([*narrow, "--out", str(tmp_path / "lm")]) == 0
    model = load_run(tmp_path / "lm").model
    assert sum("embedding" in key for key in model.state_dict()) == 1
    softmax, embedding = model.head.softmax, model.encoder.embedding.weight
    states = torch.randn(5, 8)
    shortlist = softmax.shortlist_size
    torch.testing.assert_close(softmax.head(states)[:, :shortlist], states @ embedding[:shortlist].T)
    with torch.no_grad():
        embedding[3] += 1.0  # the same parameter: the output row moves with it
    torch.testing.assert_close(softmax.head(states)[:, 3], states @ embedding[3])


def load_run_weights(args, out):
    assert main([*args, "--out", str(out)]) == 0
    return load_file(out / "best.safetensors")


def test_a_language_model_resumes_exactly(data_dir, tmp_path, resumes_exactly):
    path = tmp_path / "corpus.txt"
    corpus(path, data_dir, rows=200)

    def train(out, resume):
        args = ["train", "--resume", "--out", str(out)] if resume else [
            "train", "language-model", "--out", str(out), "--set", f"data.train={path}", *SMALL]
        assert main(args) == 0

    resumes_exactly(train)


def test_a_classifier_starts_from_the_pretrained_encoder(data_dir, tmp_path):
    corpus(tmp_path / "corpus.txt", data_dir)
    assert main(["train", "language-model", "--out", str(tmp_path / "lm"), "--set",
                 f"data.train={tmp_path / 'corpus.txt'}", "--set", "encoder.vectors_vocab=0", "--set", "encoder.hidden_size=16",
                 "--set", "train.epochs=1", "--set", "train.threads=1"]) == 0
    assert main(["train", "sst2", "--out", str(tmp_path / "clf"), "--set", f"encoder.init={tmp_path / 'lm'}",
                 "--set", "encoder.freeze_epochs=1", "--set", "train.epochs=1", "--set", "train.max_steps=3",
                 "--set", "encoder.vectors_vocab=0"]) == 0
    lm, clf = (load_file(tmp_path / name / "best.safetensors") for name in ("lm", "clf"))
    recurrent = [k for k in lm if k.startswith("encoder.rnn.")]
    assert recurrent and all(torch.equal(lm[k], clf[k]) for k in recurrent)  # frozen for its one epoch
    rows = lm["encoder.embedding.weight"].shape[0]
    assert torch.equal(lm["encoder.embedding.weight"], clf["encoder.embedding.weight"][:rows])
    assert json.loads((tmp_path / "clf" / "metrics.json").read_text())["encoder_init"]["known_words"] == rows


def test_lm_finetuning_inside_cross_validation_reads_each_folds_text_and_never_its_held_out_fold(data_dir, tmp_path,
                                                                                                  capsys):
    from seqtasks.data.resolve import cache_dir
    from seqtasks.data.splits import kfold
    from seqtasks.engine.prepare import read_split

    corpus(tmp_path / "corpus.txt", data_dir, rows=200)
    assert main(["train", "language-model", "--out", str(tmp_path / "lm"), "--set",
                 f"data.train={tmp_path / 'corpus.txt'}", "--set", "train.epochs=1", *SMALL[:6]]) == 0
    source = set(Vocab.load(tmp_path / "lm" / "vocab.json").tokens)
    cv = ["train", "cr", "--out", str(tmp_path / "cv"), "--set", f"encoder.init={tmp_path / 'lm'}", "--set",
          "encoder.lm_finetune_epochs=1", "--set", "data.folds=3", "--set", "train.epochs=1", "--set",
          "train.max_steps=2", "--set", "encoder.vectors="]
    assert main(cv) == 0
    assert capsys.readouterr().out.count("lm-finetune: training") == 3
    config = load_run_config(RunFolder(tmp_path / "cv"), LabelSet([]))
    full = read_split(config, config.data.train)
    folds = kfold(full.rows, 3, config.train.seed, get_task("text-classification").strata(full.rows))

    def words(rows) -> set[str]:
        return {word.lower() for tokens in rows["tokens"] for word in tokens}

    tuned = set()
    for k, (train_rows, heldout_rows) in enumerate(folds, start=1):
        init = json.loads((tmp_path / "cv" / f"fold-0{k}" / "metrics.json").read_text())["encoder_init"]
        assert init["lm_finetuned_from"] == str(tmp_path / "lm")
        language_model = Vocab.load(f"{init['folder']}/vocab.json").tokens
        seen, heldout_only = words(full.rows.select(train_rows)), words(full.rows.select(heldout_rows))
        heldout_only -= seen | source
        assert heldout_only and not heldout_only & set(language_model)  # no held-out word reached the LM
        lm_text = json.loads((Path(init["folder"]) / "metrics.json").read_text())["data_summary"]
        chunks = sum(math.ceil(len(tokens) / 100) for tokens in full.rows.select(train_rows)["tokens"])
        assert lm_text["train_rows"] + lm_text["dev_rows"] == chunks  # the fold's train and dev text, cut at 100
        tuned.add(init["folder"])
    assert len(tuned) == 3 and {p.name for p in (cache_dir() / "lm-finetuned").iterdir()
                                if not p.name.startswith(".")} == {Path(f).name for f in tuned}
    assert main([*cv, "--overwrite", "--set", "train.threads=1"]) == 0  # threads change where, not what
    assert "lm-finetune: training" not in capsys.readouterr().out  # each fold's language model is cached


def test_a_built_in_datasets_text_is_read_without_labels_and_long_texts_are_cut(data_dir, tmp_path):
    from seqtasks.engine.prepare import read_rows

    config = RunConfig(task="language-model", data=DataConfig(dataset="sick", max_tokens=4))
    rows, tokenizer = read_rows(config, data_dir / "sick" / "SICK_trial.txt")
    assert rows.column_names == ["tokens", "line"] and tokenizer == "words"
    assert max(len(t) for t in rows["tokens"]) == 4 and len(rows) > 1000  # 500 pairs, both sides, in chunks


def test_what_a_language_model_cannot_do_is_one_line(data_dir, tmp_path, capsys):
    corpus(tmp_path / "corpus.txt", data_dir, rows=60)
    args = ["train", "language-model", "--out", str(tmp_path / "lm"), "--set", f"data.train={tmp_path / 'corpus.txt'}",
            *SMALL]
    assert main([*args, "--set", "encoder.num_layers=2"]) == 2
    assert "use encoder.cell=separate_stacks" in capsys.readouterr().err
    two_layers = ["--set", "encoder.num_layers=2", "--set", "encoder.cell=separate_stacks"]
    assert main([*args, *two_layers, "--out", str(tmp_path / "lm2")]) == 0
    assert load_run(tmp_path / "lm2").config.encoder.cell == "separate_stacks"
    assert main(args) == 0
    assert main(["export", str(tmp_path / "lm")]) == 2
    assert "exports nothing" in capsys.readouterr().err
    (tmp_path / "lm.toml").write_text(f'recipe = "language-model"\n[data]\ntrain = "{tmp_path / "corpus.txt"}"\n')
    with pytest.raises(ConfigError, match="pretrains the encoder on its own"):
        multi_task.main(multi_task.Config(tasks=f"sst2,{tmp_path / 'lm.toml'}"), tmp_path / "mt")
    assert not (tmp_path / "mt").exists()


def test_a_targets_corpus_leaves_its_family_and_every_dev_line_out(data_dir):
    from seqtasks.data.corpus import DEV_SPLITS, build_corpus, members, normalised, texts
    from seqtasks.data.resolve import all_sources

    assert {"sst5", "mr", "subj"}.isdisjoint(members("for:sst2")) and "sst2" in members("for:sst2")
    assert "trec" not in members("for:trec")  # its dev split is carved from its training split
    assert "stsb" not in members("for:mrpc") and "mrpc" not in members("for:stsb")
    assert "mrpc" not in members("for:sick,stsb") and {"sick", "stsb"} <= set(members("for:sick,stsb"))
    assert members("for:sick,stsb") == sorted(set(members("for:sick")) & set(members("for:stsb")))
    assert {"mr", "subj", "cr", "mpqa"}.isdisjoint(members("all"))  # cross-validated: every row is a test row
    corpus = build_corpus("for:sst2")
    assert sum(corpus.record["datasets"].values()) == len(corpus.rows) == corpus.record["lines"]
    lines = {normalised(tokens) for tokens in corpus.rows["tokens"]}
    for name, source in all_sources().items():
        for split in DEV_SPLITS:
            if split in source.splits:
                assert lines.isdisjoint(normalised(tokens) for tokens, _ in texts(name, split)), (name, split)
    with pytest.raises(ConfigError, match="expected all or for:DATASET"):
        members("for:nope")


def test_the_lm_bench_compares_against_a_hand_written_loop(data_dir, tmp_path, capsys):
    out = tmp_path / "lm.json"
    assert main(["bench", "--lm", "--quick", "--json", str(out), "--set", "encoder.hidden_size=16",
                 "--set", "data.output_words=500"]) == 0
    result = json.loads(out.read_text())
    # the softmax share is a difference of two timings: on a 2-round quick bench it can come out below 0,
    # so only its presence is tested here (speed belongs to the bench, not to a test)
    assert result["output_words"] == 500 and math.isfinite(result["softmax_share_of_step"])
    assert "hand-written loop" in capsys.readouterr().out


def test_the_hand_written_lm_computes_the_toolkits_loss():
    """The bench compares like with like: with the toolkit's weights, the hand-written biLM gives its loss."""
    from seqtasks.experiments.lm_bench import RawLM

    model, vocab = tiny_model()
    raw = RawLM(len(vocab), 6, 5, 20, 0.0).eval()
    names = [name for name, _ in model.named_parameters()]
    assert len(names) == len(list(raw.parameters()))
    with torch.no_grad():
        for mine, theirs in zip(raw.parameters(), model.parameters()):
            mine.copy_(theirs)
    rows = Dataset.from_dict({"tokens": [["w1", "w25", "w3", "w4"], ["w4", "w5"], ["w7", "w8", "w2"]],
                              "line": [1, 2, 3]})
    batch = LM.encode(rows, vocab, None, "rows").batch(torch.arange(3))
    with torch.no_grad():
        torch.testing.assert_close(raw(batch.token_ids, batch.lengths), model(batch).loss)


@pytest.mark.parametrize("hidden", [8, 16, 64])
def test_every_cluster_of_the_adaptive_softmax_has_some_width_at_any_model_size(hidden):
    """The rarer clusters' states are narrower; at 8 units a direction, 4x per cluster would leave none."""
    from heads.language_model import LanguageModelHead

    head = LanguageModelHead(2 * hidden, [f"w{i}" for i in range(12_000)], HeadConfig())
    widths = [projection[0].out_features for projection in head.softmax.tail]
    assert len(widths) == 2 and min(widths) >= 1
    assert widths == ([hidden // 4, hidden // 16] if hidden >= 16 else [hidden, hidden])
