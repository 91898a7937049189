import pytest
import torch
from datasets import Dataset

from heads import CosinePairHead, CosineScoreHead
from seqtasks.core.config import HeadConfig, RunConfig, apply_overrides
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import Batch
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.model.encoder import EncoderOutput
from seqtasks.tasks import build_model, get_task
from seqtasks.tasks.metrics import paraphrase_metrics, similarity_metrics

PAIRS = {"tokens": [["a", "man", "runs"], ["two", "dogs"], ["it", "rains", "today", "here"]],
         "tokens_b": [["a", "man", "is", "running"], ["dogs", "play", "outside", "in", "snow"], ["rain"]],
         "line": [2, 3, 4]}


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_pair_cosine_equals_encoding_each_sentence_alone(pooling):
    rows = Dataset.from_dict({**PAIRS, "score": [0.9, 0.4, 0.1]})
    vocab = Vocab.build(PAIRS["tokens"] + PAIRS["tokens_b"], tokenizer="words")
    config = apply_overrides(RunConfig(task="sentence-similarity"), [f"head.pooling={pooling}",
                                                                     "encoder.hidden_size=6", "encoder.embedding_dim=5"])
    torch.manual_seed(0)
    model = build_model(config, len(vocab), []).eval()
    model.encoder.vocab = vocab
    pairs = get_task("sentence-similarity").encode(rows, vocab, LabelSet([]), "pairs")
    batch = pairs.batch(torch.tensor([2, 0, 1]))
    assert batch.token_ids.shape[0] == 6 and batch.labels.tolist() == pytest.approx([0.1, 0.9, 0.4])
    cosine = model(batch).value
    for position, row in enumerate([2, 0, 1]):
        texts = [" ".join(PAIRS["tokens"][row]), " ".join(PAIRS["tokens_b"][row])]
        a, b = model.head.embed(model.encoder.encode(texts))
        expected = torch.nn.functional.cosine_similarity(a, b, dim=0)
        torch.testing.assert_close(cosine[position], expected)


def test_pair_classification_thresholds_the_cosine_and_takes_exactly_two_labels():
    head = CosinePairHead(4, ["0", "1"], HeadConfig(dropout=0.0))
    assert float(head.threshold.detach()) == 0.5
    config = RunConfig(task="pair-classification")
    assert isinstance(build_model(config, 10, ["0", "1"]).head, CosinePairHead)
    with pytest.raises(ConfigError, match="two labels"):
        build_model(config, 10, ["a", "b", "c"])


def test_similarity_metrics_match_hand_computation():
    import numpy as np

    gold, predicted = [0.1, 0.5, 0.9, 0.3], [0.2, 0.4, 0.7, 0.5]
    scores = similarity_metrics(gold, predicted)
    assert scores["pearson"] == pytest.approx(np.corrcoef(gold, predicted)[0, 1])
    assert scores["spearman"] == pytest.approx(0.8)  # ranks 1,3,4,2 vs 1,2,4,3: 1 - 6*2/(4*15)
    assert scores["mse"] == pytest.approx((0.01 + 0.01 + 0.04 + 0.04) / 4)
    # 3 predicted positives, 2 of them right, 3 gold positives: P = R = F1 = 2/3
    assert paraphrase_metrics([1, 1, 0, 1, 0], [1, 0, 1, 1, 0]) == pytest.approx(
        {"accuracy": 0.6, "f1": 2 / 3, "n": 5})


@pytest.mark.parametrize("floor", [-1.0, 0.0])
def test_score_regression_targets_the_cosine_range_from_the_floor(floor):
    head = CosineScoreHead(4, [], HeadConfig(cosine_floor=floor))
    scores = torch.tensor([0.0, 0.25, 1.0])
    assert head.target(scores).tolist() == pytest.approx([floor, floor + 0.25 * (1 - floor), 1.0])
    torch.testing.assert_close(head.score(head.target(scores)), scores)
    assert head.score(torch.tensor([floor - 0.5])).item() == 0.0  # clamped to the score range


def test_cosent_loss_equals_the_brute_force_sum_over_ordered_pairs():
    import math

    from heads.cosine import cosent_loss

    cosines = torch.tensor([0.9, 0.1, -0.3, 0.5, 0.5])
    scores = torch.tensor([0.8, 0.2, 0.2, 0.6, 0.9])
    total = 1.0  # the exp(0) that keeps the loss at log(1 + ...) >= 0
    for i in range(5):
        for j in range(5):
            if scores[i] > scores[j]:
                total += math.exp(20 * (cosines[j] - cosines[i]))
    assert cosent_loss(cosines, scores).item() == pytest.approx(math.log(total), rel=1e-5)
    head = CosineScoreHead(4, [], HeadConfig(objective="cosent"))
    assert head.score(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0.0, 0.5, 1.0]  # monotone, no clamping


def test_angle_similarity_is_the_complex_quotient_of_angle_and_trains_with_cosent():
    """AnglE reads a [B, 2K] vector as K complex numbers: checked against torch's complex arithmetic."""
    from heads.cosine import angle_similarity

    torch.manual_seed(0)
    u, v = torch.randn(6, 8), torch.randn(6, 8)
    complex_u, complex_v = torch.complex(*u.chunk(2, -1)), torch.complex(*v.chunk(2, -1))
    quotient = (complex_u * complex_v.conj()).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))
    torch.testing.assert_close(angle_similarity(u, v), (quotient.real + quotient.imag).abs())
    torch.testing.assert_close(angle_similarity(u, u), torch.ones(6))  # no angle between a vector and itself
    head = CosineScoreHead(8, [], HeadConfig(objective="angle", dropout=0.0))
    encoded = EncoderOutput(torch.zeros(12, 1, 8), torch.cat([u, v]).requires_grad_(), torch.ones(12, 1, dtype=torch.bool))
    loss = head(encoded, Batch(torch.ones(12, 1, dtype=torch.long), torch.ones(12), torch.rand(6), torch.arange(6))).loss
    loss.backward()
    assert encoded.final.grad.abs().sum() > 0


@pytest.mark.parametrize("levels", [5, 6])
def test_comparator_target_puts_the_mass_on_the_two_neighbouring_points_and_keeps_the_expectation(levels):
    from heads.comparator import ComparatorScoreHead

    head = ComparatorScoreHead(4, [], HeadConfig(score_levels=levels))
    scores = torch.tensor([0.0, 0.3, 0.55, 1.0, 0.25])
    target = head.target_distribution(scores)
    assert torch.allclose(target.sum(-1), torch.ones(5))
    assert torch.allclose(target @ head.points("cpu"), scores, atol=1e-6)  # the expectation is the gold score
    assert ((target > 0).sum(-1) <= 2).all()
    position = 0.3 * (levels - 1)  # e.g. SICK's 2.2 on 1..5 with 5 points: 0.8 on 2, 0.2 on 3
    low = int(position)
    assert target[1, low].item() == pytest.approx(1 - (position - low))
    assert target[1, low + 1].item() == pytest.approx(position - low)


def test_the_objective_and_the_comparator_are_chosen_by_config():
    with pytest.raises(ConfigError, match="head.objective='anglee': expected one of mse, cosent, angle"):
        CosineScoreHead(4, [], HeadConfig(objective="anglee"))
    with pytest.raises(ConfigError, match="odd size, 5"):
        CosineScoreHead(5, [], HeadConfig(objective="angle"))
    model = build_model(RunConfig(task="sentence-similarity", head=HeadConfig(name="comparator")), 10, [])
    assert type(model.head).__name__ == "ComparatorScoreHead" and model.embeds
    with pytest.raises(ConfigError, match="takes no option objective"):
        build_model(RunConfig(task="sentence-similarity", head=HeadConfig(name="comparator", objective="cosent")),
                    10, [])
