import pytest
import torch

from seqtasks import LSTMEncoder
from seqtasks.core.errors import ConfigError
from seqtasks.tools.diagnostics import forget_products, gradient_flow, trace_gradients


def tiny_encoder(cell="reference"):
    torch.manual_seed(0)
    return LSTMEncoder(20, 4, 3, bidirectional=False, cell=cell).eval()


def by_hand_grads(encoder, token_ids, weights):
    """dL/dc_k and dL/dh_k from our own loop: a zero 'delta' added to each c_k and h_k has
    gradient dL/dc_k (dL/dh_k), computed by autograd independently of the probe."""
    cell = encoder.rnn.layers[0][0]
    x = encoder.embedding(token_ids)
    h = c = torch.zeros(token_ids.shape[0], 3)
    deltas_c, deltas_h = [], []
    for t in range(token_ids.shape[1]):
        z = torch.cat([h, x[:, t]], -1)
        f, i, o = (torch.sigmoid(gate(z)) for gate in (cell.forget_gate, cell.input_gate, cell.output_gate))
        deltas_c.append(torch.zeros(token_ids.shape[0], 3, requires_grad=True))
        deltas_h.append(torch.zeros(token_ids.shape[0], 3, requires_grad=True))
        c = f * c + i * torch.tanh(cell.candidate(z)) + deltas_c[-1]
        h = o * torch.tanh(c) + deltas_h[-1]
    loss = (h * weights).sum()
    grads = torch.autograd.grad(loss, deltas_c + deltas_h)
    steps = token_ids.shape[1]
    norms = [g.norm(dim=-1) for g in grads]
    return torch.stack(norms[:steps], 1), torch.stack(norms[steps:], 1)


def test_gradient_probe_matches_autograd_by_hand():
    encoder = tiny_encoder()
    token_ids = torch.tensor([[3, 5, 7, 9, 2], [4, 6, 8, 1, 11]])
    lengths = torch.tensor([5, 5])
    weights = torch.randn(3)
    (trace,) = trace_gradients(encoder, token_ids, lengths, lambda out: (out.final * weights).sum())
    grad_c, grad_h = by_hand_grads(encoder, token_ids, weights)
    torch.testing.assert_close(trace.grad_c, grad_c)
    torch.testing.assert_close(trace.grad_h, grad_h)


def test_nn_lstm_is_probed_through_its_reference_twin():
    fast = tiny_encoder("lstm")
    token_ids, lengths = torch.tensor([[3, 5, 7, 0], [4, 6, 8, 1]]), torch.tensor([3, 4])
    weights = torch.randn(3)
    (trace,) = trace_gradients(fast, token_ids, lengths, lambda out: (out.final * weights).sum())
    # the twin's h_T is nn.LSTM's: the gradient entering at the last step is the loss weights
    for row, n in enumerate(lengths.tolist()):
        assert torch.isclose(trace.grad_h[row, n - 1], weights.norm(), atol=1e-6)
    flow = gradient_flow([trace], lengths)[0]
    assert flow.rows == [2, 2, 2, 1] and flow.forget_product[0] == 1.0


def test_forget_product_is_the_cell_path_jacobian_when_other_paths_are_cut():
    encoder = tiny_encoder()
    cell = encoder.rnn.layers[0][0]
    cell.cut_hidden_path = True  # h_{t-1} no longer feeds the gates: c_{t-1} -> c_t is the only path
    cell.trace = []
    token_ids = torch.tensor([[3, 5, 7, 9, 2, 4]])
    encoder(token_ids, torch.tensor([6]))
    steps, cell.trace = cell.trace, None
    c_last = steps[-1]["c"]
    forget = torch.stack([s["f"] for s in steps], 1)
    products = forget_products(forget, torch.ones(1, 6, dtype=torch.bool))
    for k in range(6):
        (jacobian_diagonal,) = torch.autograd.grad(c_last.sum(), steps[k]["c"], retain_graph=True)
        torch.testing.assert_close(jacobian_diagonal, products[:, k])


def test_a_cell_the_diagnostics_cannot_trace_is_one_line():
    encoder = LSTMEncoder(20, 4, 3, cell="separate_stacks").eval()
    with pytest.raises(ConfigError, match="not encoder.cell=separate_stacks"):
        trace_gradients(encoder, torch.tensor([[1, 2, 3]]), torch.tensor([3]), lambda out: out.final.sum())
