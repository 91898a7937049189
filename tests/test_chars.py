import pytest
import torch
from datasets import Dataset

from seqtasks import LSTMEncoder
from seqtasks.data.chars import MAX_BYTES, WordChars, chars_of, spell
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.model.chars import CharCNN
from seqtasks.tasks import get_task


def test_spelling_is_utf8_bytes_and_long_words_keep_both_ends():
    table = spell(["ab", "é", "x" * 10 + "MIDDLE" + "y" * 10])
    assert table[0, :3].tolist() == [ord("a") + 1, ord("b") + 1, 0]
    assert table[1, :3].tolist() == [0xC3 + 1, 0xA9 + 1, 0]
    assert bytes((table[2] - 1).tolist()) == b"x" * 10 + b"y" * 10 and table.shape[1] == MAX_BYTES


def test_a_words_features_do_not_depend_on_its_batch():
    torch.manual_seed(0)
    cnn = CharCNN(8)
    together = cnn(chars_of([["The", "cat"], ["dogs"]], width=2))
    for row, sentence in enumerate([["The", "cat"], ["dogs"]]):
        alone = cnn(chars_of([sentence], width=len(sentence)))
        torch.testing.assert_close(together[row, : len(sentence)], alone[0])


def test_split_batches_carry_the_same_chars_as_raw_text():
    tokens = [["Paris", "is", "big"], ["Oslo"], ["is", "Paris", "?", "yes"]]
    rows = Dataset.from_dict({"tokens": tokens, "label": ["a", "b", "a"], "line": [1, 2, 3]})
    vocab, labels = Vocab.build(rows["tokens"]), LabelSet.build(rows["label"])
    split = get_task("text-classification").encode(rows, vocab, labels, "rows", chars=True)
    index = torch.tensor([2, 0])
    batch = split.batch(index)
    raw = chars_of([tokens[2], tokens[0]], width=4)
    real = torch.arange(4)[None, :] < batch.lengths[:, None]
    spelled = lambda c: c.spellings[c.index][real]
    assert torch.equal(spelled(batch.chars), spelled(raw))
    assert len(batch.chars.spellings) == len({"Paris", "is", "big", "?", "yes"})  # each form once


def test_unknown_words_differ_by_spelling_and_h_T_matches_encoding_alone():
    torch.manual_seed(0)
    encoder = LSTMEncoder(10, 6, 5, char_features=4).eval()
    sentences = [["qwerty", "zzz"], ["asdf"]]
    token_ids = torch.tensor([[1, 1], [1, 0]])  # every word is <unk>
    out = encoder(token_ids, torch.tensor([2, 1]), chars_of(sentences, width=2))
    first = encoder(token_ids[:1, :1], torch.tensor([1]), chars_of([["qwerty"]], 1)).final
    other = encoder(token_ids[:1, :1], torch.tensor([1]), chars_of([["asdf"]], 1)).final
    assert not torch.allclose(first, other)
    torch.testing.assert_close(out.final[1], other[0])
    with pytest.raises(ValueError, match="character features"):
        encoder(token_ids, torch.tensor([2, 1]))


def test_word_chars_moves_to_a_device():
    chars = chars_of([["a"]], 1).to("cpu")
    assert isinstance(chars, WordChars) and chars.index.tolist() == [[0]]
