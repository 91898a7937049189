import pytest
import torch
from safetensors.torch import load_file

from recipes.sst2 import Config
from seqtasks.core.config import apply_overrides
from seqtasks.core.errors import ConfigError
from seqtasks.engine import pipeline
from seqtasks.engine.averaging import WeightAverage


def test_average_follows_the_trained_weights_with_its_warm_up():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.5)
    expected = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1, 6):
        model(torch.randn(4, 3)).pow(2).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
        average.update()
        decay = min(0.5, (1 + step) / (10 + step))
        for name, p in model.named_parameters():
            expected[name] = decay * expected[name] + (1 - decay) * p.detach()
    state = average.tensors()
    for name, value in expected.items():
        torch.testing.assert_close(state[f"average.{name}"], value)
    assert int(state["average_steps"]) == 5


def test_applied_swaps_the_average_in_and_the_trained_weights_back():
    model = torch.nn.Linear(3, 2)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model.weight.add_(1.0)
    after_step = {k: v.clone() for k, v in model.state_dict().items()}
    average.update()  # decay 2/11 at step 1: the shadow moves 9/11 of the way to the new weights
    with average.applied():
        torch.testing.assert_close(model.weight, trained["weight"] + 9 / 11)
    assert all(torch.equal(model.state_dict()[k], after_step[k]) for k in after_step)


def test_best_checkpoint_holds_the_averaged_weights_not_the_last_step(data_dir, tmp_path):
    small = ["encoder.vectors=", "encoder.embedding_dim=16", "encoder.hidden_size=8", "train.epochs=1",
             "train.max_steps=6", "train.average=0.9"]
    pipeline.run(apply_overrides(Config(), small), tmp_path)
    best, last = load_file(tmp_path / "best.safetensors"), load_file(tmp_path / "last.safetensors")
    weight = "encoder.rnn.weight_hh_l0"
    assert torch.equal(best[weight], last[f"average.{weight}"])
    assert not torch.equal(best[weight], last[f"model.{weight}"])


@pytest.mark.parametrize("decay", [1.0, -0.5])
def test_a_decay_outside_0_1_is_a_config_error(decay):
    with pytest.raises(ConfigError, match="train.average"):
        WeightAverage(torch.nn.Linear(2, 2), decay)
