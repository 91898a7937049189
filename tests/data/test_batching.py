import pytest
import torch
from datasets import Dataset

from seqtasks.data.batching import bucketed_batches, padding_waste
from seqtasks.data.readers import DataFormatError, read_labeled_lines
from seqtasks.data.vocab import LabelSet, UnknownLabelError, Vocab
from seqtasks.tasks import get_task

CLASSIFY = get_task("text-classification")


def tiny():
    rows = Dataset.from_dict({"tokens": [["A", "b"], ["c"], ["b", "c", "d", "e"]], "label": ["x", "y", "x"],
                              "line": [1, 2, 4]})
    return rows, Vocab.build(rows["tokens"]), LabelSet.build(rows["label"])


def test_batch_matches_padding_by_hand():
    rows, vocab, labels = tiny()
    split = CLASSIFY.encode(rows, vocab, labels, "rows")
    batch = split.batch(torch.tensor([2, 1]))
    expected = [vocab.encode(["b", "c", "d", "e"]), vocab.encode(["c"]) + [0, 0, 0]]
    assert batch.token_ids.tolist() == expected
    assert batch.lengths.tolist() == [4, 1] and batch.labels.tolist() == [0, 1]
    assert vocab.encode(["A"]) == vocab.encode(["a"])  # lowercase is the default


def test_bucketed_batches_cover_every_row_once_and_cut_padding(data_dir):
    rows = read_labeled_lines(data_dir / "sst2" / "stsa.binary.train")
    lengths = torch.tensor([len(t) for t in rows["tokens"]])
    batches = bucketed_batches(lengths, 32, torch.Generator().manual_seed(0))
    assert sorted(torch.cat(batches).tolist()) == list(range(len(rows)))
    random_batches = list(torch.randperm(len(rows), generator=torch.Generator().manual_seed(0)).split(32))
    assert padding_waste(lengths, batches) < 0.05 < padding_waste(lengths, random_batches)


def test_unknown_label_names_file_line_and_labels():
    _rows, vocab, labels = tiny()
    other = Dataset.from_dict({"tokens": [["b"], ["c"]], "label": ["x", "zz"], "line": [3, 7]})
    with pytest.raises(UnknownLabelError, match=r"dev\.txt:7: labels \['zz'\] are not in .*\['x', 'y'\]"):
        CLASSIFY.encode(other, vocab, labels, "dev.txt")


def test_overlong_sequence_names_file_and_line():
    rows, vocab, labels = tiny()
    with pytest.raises(DataFormatError, match=r"train\.txt:4: 4 tokens, more than data.max_tokens=3"):
        CLASSIFY.encode(rows, vocab, labels, "train.txt", max_tokens=3)


def test_a_pool_of_one_batch_gives_plain_random_batches():
    lengths = torch.randint(1, 60, (2000,), generator=torch.Generator().manual_seed(1))
    pooled = bucketed_batches(lengths, 32, torch.Generator().manual_seed(0))
    plain = bucketed_batches(lengths, 32, torch.Generator().manual_seed(0), pool_batches=1)
    order = torch.randperm(2000, generator=torch.Generator().manual_seed(0))
    assert {frozenset(b.tolist()) for b in plain} == {frozenset(c.tolist()) for c in order.split(32)}  # cut in order
    assert padding_waste(lengths, plain) > 2 * padding_waste(lengths, pooled)
