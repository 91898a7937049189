import pytest
import torch

from heads import ClassificationHead
from heads.pooling import AttentionPooling, MaxPooling, MeanPooling
from seqtasks import LSTMEncoder
from seqtasks.core.config import HeadConfig
from seqtasks.data.batching import Batch


@pytest.fixture
def encoded():
    torch.manual_seed(0)
    encoder = LSTMEncoder(30, 8, 5).eval()
    token_ids = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]])
    return encoder(token_ids, torch.tensor([3, 5]))


def test_mean_and_max_ignore_padding(encoded):
    size = encoded.states.shape[-1]
    for row, n in enumerate([3, 5]):
        real = encoded.states[row, :n]
        torch.testing.assert_close(MeanPooling(size)(encoded).vector[row], real.mean(0))
        torch.testing.assert_close(MaxPooling(size)(encoded).vector[row], real.amax(0))


@pytest.mark.parametrize("heads", [1, 3])
def test_attention_weights_sum_to_one_over_real_tokens_and_are_zero_on_padding(heads):
    torch.manual_seed(0)
    encoder = LSTMEncoder(30, 8, 5).eval()
    lengths = torch.tensor([3, 7, 1, 5])
    token_ids = torch.randint(2, 30, (4, 7)) * (torch.arange(7)[None, :] < lengths[:, None])
    out = encoder(token_ids, lengths)
    pooled = AttentionPooling(out.states.shape[-1], 6, heads)(out)
    assert pooled.weights.shape == (4, heads, 7) and pooled.vector.shape == (4, heads * out.states.shape[-1])
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(pooled.weights[row, :, :n].sum(-1), torch.ones(heads))
        assert torch.all(pooled.weights[row, :, n:] == 0)
        expected = (pooled.weights[row, :, :n] @ out.states[row, :n]).flatten()
        torch.testing.assert_close(pooled.vector[row], expected)
    if heads > 1:
        gram = pooled.weights @ pooled.weights.transpose(1, 2)
        expected_penalty = sum(torch.linalg.matrix_norm(g - torch.eye(heads)) ** 2 for g in gram) / 4
        torch.testing.assert_close(pooled.penalty, expected_penalty)
    else:
        assert pooled.penalty is None


def test_attention_penalty_enters_the_classification_loss(encoded):
    torch.manual_seed(0)
    config = HeadConfig(pooling="attention", attention_heads=2, attention_penalty=0.5, dropout=0.0)
    head = ClassificationHead(encoded.final.shape[-1], ["a", "b"], config)
    labels = torch.tensor([1, 0])
    out = head(encoded, Batch(torch.zeros(2, 5), torch.tensor([3, 5]), labels, torch.arange(2)))
    penalty = head.pool(encoded).penalty
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, labels) + 0.5 * penalty)
    assert out.attention.shape == (2, 2, 5)


def test_classification_loss_is_cross_entropy_of_the_logits(encoded):
    head = ClassificationHead(encoded.final.shape[-1], ["a", "b", "c"], HeadConfig(hidden_size=4, dropout=0.0))
    labels = torch.tensor([2, 0])
    out = head(encoded, Batch(torch.zeros(2, 5), torch.tensor([3, 5]), labels, torch.arange(2)))
    assert out.logits.shape == (2, 3)
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, labels))


def test_unknown_pooling_lists_valid_names():
    with pytest.raises(ValueError, match="valid poolings: last, mean, max, attention"):
        ClassificationHead(4, ["a", "b"], HeadConfig(pooling="avg"))
