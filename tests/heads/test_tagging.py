import torch

from heads.tagging import TaggingHead, tag_scheme
from seqtasks import LSTMEncoder
from seqtasks.core.config import HeadConfig
from seqtasks.data.batching import IGNORE, Batch


def encoded_batch():
    torch.manual_seed(0)
    encoder = LSTMEncoder(30, 8, 5).eval()
    token_ids, lengths = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9]]), torch.tensor([3, 4])
    labels = torch.tensor([[0, 2, 1, IGNORE], [1, 1, 0, 2]])
    return encoder(token_ids, lengths), Batch(token_ids, lengths, labels, torch.arange(2))


def test_cross_entropy_covers_real_tokens_only():
    encoded, batch = encoded_batch()
    head = TaggingHead(encoded.states.shape[-1], ["A", "B", "C"], HeadConfig(name="tagging", dropout=0.0))
    out = head(encoded, batch)
    real = batch.labels != IGNORE
    expected = torch.nn.functional.cross_entropy(out.logits[real], batch.labels[real])
    torch.testing.assert_close(out.loss, expected)


def test_decoding_gives_one_tag_per_real_token_with_and_without_crf():
    encoded, batch = encoded_batch()
    for crf in (False, True):
        head = TaggingHead(encoded.states.shape[-1], ["O", "B-X", "I-X"], HeadConfig(name="tagging", crf=crf))
        paths = head.decode(head(encoded, batch).logits, encoded.mask)
        assert [len(p) for p in paths] == [3, 4]


def test_tag_scheme_is_read_off_the_tag_names():
    assert tag_scheme(["NOUN", "VERB", "PRON"]) == ""
    assert tag_scheme(["O", "B-PER", "I-PER"]) == "BIO"
    assert tag_scheme(["O", "B-PER", "E-PER", "S-LOC"]) == "BIOES"
