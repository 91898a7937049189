import pytest
import torch

from seqtasks import LSTMEncoder
from seqtasks.model.cells import (
    CELLS,
    ReferenceLSTM,
    copy_weights_from_nn_lstm,
    reverse_padded,
)


def ragged_batch(lengths, vocab_size=50, pad_to=None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    width = pad_to or max(lengths)
    token_ids = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        token_ids[row, :n] = torch.randint(1, vocab_size, (n,), generator=gen)
    return token_ids, torch.tensor(lengths)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_final_state_equals_encoding_each_row_alone(cell, num_layers, bidirectional):
    torch.manual_seed(0)
    if cell == "separate_stacks" and not bidirectional:
        with pytest.raises(ValueError, match="leave encoder.bidirectional on"):
            LSTMEncoder(50, 8, 6, num_layers=num_layers, bidirectional=False, cell=cell)
        return
    encoder = LSTMEncoder(50, 8, 6, num_layers=num_layers, bidirectional=bidirectional, cell=cell).eval()
    token_ids, lengths = ragged_batch([5, 1, 7, 3])
    out = encoder(token_ids, lengths)
    assert out.states.shape == (4, 7, encoder.output_size)
    for row, n in enumerate(lengths.tolist()):
        alone = encoder(token_ids[row : row + 1, :n], lengths[row : row + 1])
        torch.testing.assert_close(out.final[row], alone.final[0])
        torch.testing.assert_close(out.states[row, :n], alone.states[0])
        assert torch.all(out.states[row, n:] == 0)


def test_final_is_forward_last_token_and_backward_first_token():
    torch.manual_seed(1)
    encoder = LSTMEncoder(50, 8, 6, bidirectional=True).eval()
    token_ids, lengths = ragged_batch([4, 2, 6])
    out = encoder(token_ids, lengths)
    hidden = 6
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(out.final[row, :hidden], out.states[row, n - 1, :hidden])
        torch.testing.assert_close(out.final[row, hidden:], out.states[row, 0, hidden:])


def test_extra_padding_changes_nothing():
    torch.manual_seed(2)
    encoder = LSTMEncoder(50, 8, 6, num_layers=2, bidirectional=True).eval()
    token_ids, lengths = ragged_batch([3, 5])
    wide_ids, _ = ragged_batch([3, 5], pad_to=12)
    narrow, wide = encoder(token_ids, lengths), encoder(wide_ids, lengths)
    torch.testing.assert_close(narrow.final, wide.final)
    torch.testing.assert_close(narrow.states, wide.states[:, :5])
    assert wide.mask.sum().item() == 8 and wide.mask.shape == (2, 12)


def test_empty_and_overlong_lengths_are_rejected():
    encoder = LSTMEncoder(50, 8, 6)
    token_ids, _ = ragged_batch([3, 2])
    with pytest.raises(ValueError, match="empty sequence"):
        encoder(token_ids, torch.tensor([3, 0]))
    with pytest.raises(ValueError, match="exceeds the padded width"):
        encoder(token_ids, torch.tensor([4, 2]))


def test_reverse_padded_reverses_within_length():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]).unsqueeze(-1)
    expected = torch.tensor([[3, 2, 1, 0], [5, 4, 0, 0]]).unsqueeze(-1)
    assert torch.equal(reverse_padded(x, torch.tensor([3, 2])), expected)


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_reference_cell_matches_nn_lstm_outputs_and_gradients(num_layers, bidirectional):
    torch.manual_seed(3)
    fast = LSTMEncoder(50, 8, 6, num_layers=num_layers, bidirectional=bidirectional, cell="lstm")
    slow = LSTMEncoder(50, 8, 6, num_layers=num_layers, bidirectional=bidirectional, cell="reference")
    slow.embedding.load_state_dict(fast.embedding.state_dict())
    assert isinstance(slow.rnn, ReferenceLSTM)
    copy_weights_from_nn_lstm(fast.rnn, slow.rnn)
    token_ids, lengths = ragged_batch([6, 2, 4], seed=4)
    out_fast, out_slow = fast(token_ids, lengths), slow(token_ids, lengths)
    torch.testing.assert_close(out_slow.states, out_fast.states, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out_slow.final, out_fast.final, atol=1e-6, rtol=1e-5)

    (out_fast.states.square().sum() + out_fast.final.sum()).backward()
    (out_slow.states.square().sum() + out_slow.final.sum()).backward()
    torch.testing.assert_close(slow.embedding.weight.grad, fast.embedding.weight.grad, atol=1e-6, rtol=1e-5)
    # the forget gate's gradient is nn.LSTM's second block, [W_hh | W_ih] in the seed's z order
    hidden = 6
    w_ih, w_hh = fast.rnn.weight_ih_l0.grad, fast.rnn.weight_hh_l0.grad
    expected = torch.cat([w_hh[hidden : 2 * hidden], w_ih[hidden : 2 * hidden]], dim=1)
    torch.testing.assert_close(slow.rnn.layers[0][0].forget_gate.weight.grad, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_separate_stacks_are_a_forward_and_a_backward_nn_lstm_each_reading_its_row_alone(num_layers):
    """The oracle: each stack run by itself on one row's embeddings, the backward one on the row reversed."""
    torch.manual_seed(5)
    encoder = LSTMEncoder(50, 8, 6, num_layers=num_layers, cell="separate_stacks", dropout=0.3).eval()
    token_ids, lengths = ragged_batch([5, 1, 7, 3], seed=6)
    out = encoder(token_ids, lengths)
    for row, n in enumerate(lengths.tolist()):
        embedded = encoder.embedding(token_ids[row : row + 1, :n])
        forward, (h_forward, _) = encoder.rnn.forward_stack(embedded)
        backward, (h_backward, _) = encoder.rnn.backward_stack(embedded.flip(1))
        torch.testing.assert_close(out.states[row, :n], torch.cat([forward[0], backward[0].flip(0)], dim=-1))
        torch.testing.assert_close(out.final[row], torch.cat([h_forward[-1, 0], h_backward[-1, 0]]))


def test_one_layer_of_separate_stacks_computes_what_a_bidirectional_nn_lstm_does():
    torch.manual_seed(7)
    separate = LSTMEncoder(50, 8, 6, cell="separate_stacks").eval()
    joint = LSTMEncoder(50, 8, 6, cell="lstm").eval()
    joint.embedding.load_state_dict(separate.embedding.state_dict())
    weights = {**separate.rnn.forward_stack.state_dict(),
               **{f"{name}_reverse": value for name, value in separate.rnn.backward_stack.state_dict().items()}}
    joint.rnn.load_state_dict(weights)
    token_ids, lengths = ragged_batch([4, 6, 2], seed=8)
    torch.testing.assert_close(separate(token_ids, lengths).states, joint(token_ids, lengths).states)
    torch.testing.assert_close(separate(token_ids, lengths).final, joint(token_ids, lengths).final)


@pytest.mark.parametrize("cell,blind", [("separate_stacks", True), ("lstm", False)])
def test_with_two_layers_only_separate_stacks_keep_each_direction_from_the_others_tokens(cell, blind):
    """Changing token t+1 must leave the forward states up to t alone, and changing token t-1 the backward
    states from t on; a bidirectional nn.LSTM's second layer reads both directions, so there they move."""
    torch.manual_seed(9)
    encoder = LSTMEncoder(50, 8, 6, num_layers=2, cell=cell).eval()
    token_ids, lengths = ragged_batch([6], seed=10)
    t, hidden = 2, 6
    states = encoder(token_ids, lengths).states[0]
    next_changed, previous_changed = token_ids.clone(), token_ids.clone()
    next_changed[0, t + 1] = token_ids[0, t + 1] % 49 + 1
    previous_changed[0, t - 1] = token_ids[0, t - 1] % 49 + 1
    forward = encoder(next_changed, lengths).states[0, : t + 1, :hidden]
    backward = encoder(previous_changed, lengths).states[0, t:, hidden:]
    assert torch.allclose(forward, states[: t + 1, :hidden]) is blind
    assert torch.allclose(backward, states[t:, hidden:]) is blind


def test_unknown_cell_lists_valid_names():
    with pytest.raises(ValueError, match="valid cells: lstm, no_output_gate, reference, rnn, separate_stacks, tied_gates"):
        LSTMEncoder(10, 4, 4, cell="gru")


@pytest.mark.parametrize("cell", ["lstm", "reference", "tied_gates", "no_output_gate"])
def test_forget_bias_sets_the_forget_gate_at_start(cell):
    """With zero weights the forget gate is sigmoid(bias): sigmoid(1.0) for every unit."""
    encoder = LSTMEncoder(10, 4, 3, bidirectional=False, cell=cell, forget_bias=1.0)
    probe = LSTMEncoder(10, 4, 3, bidirectional=False, cell="reference")
    if cell == "lstm":
        copy_weights_from_nn_lstm(encoder.rnn, probe.rnn)
        forget_bias = probe.rnn.layers[0][0].forget_gate.bias
    elif cell == "reference":
        forget_bias = encoder.rnn.layers[0][0].forget_gate.bias
    elif cell == "tied_gates":
        forget_bias = encoder.rnn.layers[0][0].gate_bias[0]
    else:
        forget_bias = encoder.rnn.layers[0][0].input_proj.bias[:3]
    torch.testing.assert_close(forget_bias, torch.ones(3))


def test_word_dropout_only_in_training_and_never_on_padding():
    torch.manual_seed(5)
    encoder = LSTMEncoder(50, 8, 6, word_dropout=0.5)
    token_ids, _lengths = ragged_batch([30, 10], seed=5)
    dropped = encoder.drop_words(token_ids)
    assert torch.all(dropped[token_ids == 0] == 0)  # padding stays padding
    replaced = (dropped != token_ids)
    assert torch.all(dropped[replaced] == 1) and 5 < int(replaced.sum()) < 35  # ~half of 40 real tokens
    assert torch.equal(encoder.eval().drop_words(token_ids), token_ids)


def test_packing_without_syncs_gives_torchs_states_and_final_states():
    """seqtasks.model.packing replaces torch's pack/pad pair (which syncs the GPU twice a batch)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from seqtasks.model.packing import pack, unpack

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    lengths = torch.tensor([2, 5, 1, 5, 3])  # ties and an unsorted order
    padded = torch.randn(5, 6, 3) * (torch.arange(6)[None, :, None] < lengths[:, None, None])
    assert torch.equal(unpack(pack(padded, lengths), 6), padded)
    mine, (h_mine, _) = lstm(pack(padded, lengths))
    theirs, (h_theirs, _) = lstm(pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False))
    torch.testing.assert_close(unpack(mine, 6), pad_packed_sequence(theirs, batch_first=True, total_length=6)[0])
    torch.testing.assert_close(h_mine, h_theirs)
