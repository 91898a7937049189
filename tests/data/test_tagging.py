import json

import pytest

from seqtasks.data.readers import DataFormatError
from seqtasks.data.tagging import bio_to_bioes, iob1_to_bio, read_conll2003, read_conllu


def test_conllu_dev_counts_match_manifest_and_skip_multiword_and_empty_nodes(data_dir):
    manifest = json.loads((data_dir / "ud_english_ewt" / "MANIFEST.json").read_text())
    rows = read_conllu(data_dir / "ud_english_ewt" / "en_ewt-ud-dev.conllu")
    assert len(rows) == manifest["splits"]["dev"]["examples"] == 2001
    assert sum(len(t) for t in rows["tokens"]) == 25147  # syntactic words, as in the treebank's stats.xml
    assert {t for tags in rows["tags"] for t in tags} <= set(manifest["label_set"])


def test_conllu_gzipped_train_reads(data_dir):
    rows = read_conllu(data_dir / "ud_english_ewt" / "en_ewt-ud-train.conllu.gz")
    assert len(rows) == 12544 and sum(len(t) for t in rows["tokens"]) == 204577


def test_conllu_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.conllu"
    path.write_text("# text = a b\n1\ta\ta\tDET\tDT\t_\t0\troot\t_\t_\n2\tb\tb\tNOUN\n\n")
    with pytest.raises(DataFormatError, match=r"bad\.conllu:3: expected 10 tab-separated columns, found 4"):
        read_conllu(path)


def test_conll2003_dev_counts_and_docstart_dropped(data_dir):
    rows = read_conll2003(data_dir / "conll2003" / "eng.testa")
    assert len(rows) == 3250 and sum(len(t) for t in rows["tokens"]) == 51362
    assert rows["tokens"][0] == ["CRICKET", "-", "LEICESTERSHIRE", "TAKE", "OVER", "AT", "TOP", "AFTER",
                                 "INNINGS", "VICTORY", "."]
    assert rows["line"][0] == 3


def test_conll2003_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "eng.bad"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP\n")
    with pytest.raises(DataFormatError, match=r"eng\.bad:4: expected 4 space-separated columns, found 3"):
        read_conll2003(path)


def test_iob1_to_bio_and_bioes():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG"]
    bio = iob1_to_bio(iob1)
    assert bio == ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG"]
    assert bio_to_bioes(bio) == ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "E-ORG"]


def test_conllu_xpos_column(data_dir):
    from seqtasks.data.readers import read_file

    rows = read_file("conllu", data_dir / "ud_english_ewt" / "en_ewt-ud-dev.conllu", tag_column="xpos")
    assert rows["tags"][0] == ["IN", "DT", "NNP", "VBZ", "DT", "NN", ":"]
