import itertools

import pytest
import torch

from heads.crf import CRF, allowed_transitions


def brute_force(crf, emissions, length):
    """Every path of one row, scored by enumeration: (log Z, best path)."""
    transitions, start, end = crf._scores()
    scores = {}
    for path in itertools.product(range(emissions.shape[-1]), repeat=length):
        s = start[path[0]] + end[path[-1]] + sum(emissions[t, path[t]] for t in range(length))
        s = s + sum(transitions[path[t - 1], path[t]] for t in range(1, length))
        scores[path] = s
    values = torch.stack(list(scores.values()))
    return torch.logsumexp(values, 0), list(max(scores, key=lambda p: scores[p]))


@pytest.fixture
def crf_and_batch():
    torch.manual_seed(0)
    crf = CRF(3)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(3, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    return crf, emissions, mask


def test_partition_function_equals_enumeration(crf_and_batch):
    crf, emissions, mask = crf_and_batch
    log_z = crf.log_partition(emissions, mask)
    for row, length in enumerate(mask.sum(1).tolist()):
        torch.testing.assert_close(log_z[row], brute_force(crf, emissions[row], length)[0])


def test_viterbi_equals_brute_force_argmax(crf_and_batch):
    crf, emissions, mask = crf_and_batch
    paths = crf.viterbi(emissions, mask)
    for row, length in enumerate(mask.sum(1).tolist()):
        assert paths[row] == brute_force(crf, emissions[row], length)[1]
        assert len(paths[row]) == length


def test_nll_is_log_z_minus_gold_score(crf_and_batch):
    crf, emissions, mask = crf_and_batch
    tags = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0], [1, 0, 0, 0]])
    expected = []
    for row, length in enumerate(mask.sum(1).tolist()):
        log_z, _ = brute_force(crf, emissions[row], length)
        transitions, start, end = crf._scores()
        path = tags[row, :length].tolist()
        gold = start[path[0]] + end[path[-1]] + sum(emissions[row, t, path[t]] for t in range(length))
        gold = gold + sum(transitions[path[t - 1], path[t]] for t in range(1, length))
        expected.append(log_z - gold)
    torch.testing.assert_close(crf.nll(emissions, tags, mask), torch.stack(expected).mean())


def test_bio_constraints_forbid_invalid_moves_in_decoding():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed, start, end = allowed_transitions(tags, "BIO")
    assert not allowed[0, 2] and allowed[1, 2] and allowed[2, 2] and not allowed[3, 2] and not start[2]
    crf = CRF(len(tags), (allowed, start, end))
    emissions = torch.full((1, 3, 5), -5.0)
    emissions[0, :, 2] = 5.0  # the emissions alone say I-PER I-PER I-PER: invalid at the start
    assert crf.viterbi(emissions, torch.ones(1, 3, dtype=torch.bool)) == [[1, 2, 2]]


def test_bioes_constraints():
    tags = ["O", "B-X", "I-X", "E-X", "S-X"]
    allowed, start, end = allowed_transitions(tags, "BIOES")
    assert allowed[1, 2] and allowed[1, 3] and not allowed[1, 0] and not allowed[3, 2]
    assert start.tolist() == [True, True, False, False, True] and end.tolist() == [True, False, False, True, True]
