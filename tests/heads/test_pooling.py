import pytest
import torch

from heads import ClassificationHead, get_head
from heads.pooling import pool_max, pool_mean
from seqtasks import LSTMEncoder
from seqtasks.config import HeadConfig
from seqtasks.data.batching import Batch


@pytest.fixture
def encoded():
    torch.manual_seed(0)
    encoder = LSTMEncoder(30, 8, 5).eval()
    token_ids = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]])
    return encoder(token_ids, torch.tensor([3, 5]))


def test_mean_and_max_ignore_padding(encoded):
    for row, n in enumerate([3, 5]):
        real = encoded.states[row, :n]
        torch.testing.assert_close(pool_mean(encoded)[row], real.mean(0))
        torch.testing.assert_close(pool_max(encoded)[row], real.amax(0))


def test_classification_loss_is_cross_entropy_of_the_logits(encoded):
    head = ClassificationHead(encoded.final.shape[-1], ["a", "b", "c"], HeadConfig(hidden_size=4, dropout=0.0))
    labels = torch.tensor([2, 0])
    out = head(encoded, Batch(torch.zeros(2, 5), torch.tensor([3, 5]), labels, torch.arange(2)))
    assert out.logits.shape == (2, 3)
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, labels))


def test_unknown_head_or_pooling_lists_valid_names():
    with pytest.raises(ValueError, match="valid heads: classification, regression, tagging"):
        get_head("tagger-typo")
    with pytest.raises(ValueError, match="valid poolings: last, mean, max"):
        ClassificationHead(4, ["a", "b"], HeadConfig(pooling="avg"))
