"""The head contract, over every registered task, head and pooling: the output has the task's
shape and finite values, every parameter receives a gradient, and extra padding changes nothing."""
import dataclasses

import pytest
import torch
from datasets import Dataset
from torch.nn.functional import pad

from heads.pooling import POOLINGS
from seqtasks.core.config import EncoderConfig, HeadConfig, RunConfig, TrainConfig
from seqtasks.data.batching import IGNORE, Batch
from seqtasks.data.chars import WordChars
from seqtasks.data.vocab import Vocab
from seqtasks.tasks import TASKS, build_model

TOKENS = [["the", "cat", "sat", "down"], ["dogs", "bark"], ["a", "b", "c", "d", "e", "f"], ["it"]]
SECOND = [["a", "cat"], ["the", "dogs", "bark", "loudly"], ["f"], ["it", "is", "so"]]
GOLD = {"label": ["x", "y", "x", "y"], "score": [0.1, 0.5, 0.9, 0.3],
        "tags": [["B-A", "I-A", "O", "O"], ["O", "B-A"], ["O"] * 6, ["B-A"]]}
PAIR_LABELS = ["0", "1", "1", "0"]


def cases():
    for task in TASKS.values():
        for name, head in task.heads.items():
            poolings = list(POOLINGS) if "pooling" in head.OPTIONS else [None]
            for pooling in poolings:
                extra = [{"crf": False}, {"crf": True}] if "crf" in head.OPTIONS else [{}]
                for options in extra:
                    yield pytest.param(task, name, pooling, options,
                                       id=f"{task.name}-{name}-{pooling or 'tokens'}{'-crf' if options.get('crf') else ''}")


def build(task, head, pooling, options):
    rows = {"tokens": TOKENS, "line": [1, 2, 3, 4]}
    if task.pair:
        rows["tokens_b"] = SECOND
    if task.gold in GOLD or task.pair:  # a language model's text is its own gold
        rows[task.gold] = PAIR_LABELS if task.name == "pair-classification" else GOLD[task.gold]
    rows = Dataset.from_dict(rows)
    head_options = {"pooling": pooling, "attention_heads": 2, "attention_penalty": 0.1} if pooling else {}
    if pooling and pooling != "attention":
        head_options = {"pooling": pooling}
    config = RunConfig(task=task.name,
                       encoder=EncoderConfig(embedding_dim=5, hidden_size=4, dropout=0.0, vectors="", chars=True,
                                             char_features=3),
                       head=HeadConfig(name=head, dropout=0.0, **head_options, **options), train=TrainConfig())
    vocab = Vocab.build([t for c in task.text_columns for t in rows[c]])
    labels = task.label_set(rows, vocab, config)
    torch.manual_seed(0)
    model = build_model(config, len(vocab), labels.labels)
    split = task.encode(rows, vocab, labels, "rows", chars=True)
    return model, split.batch(torch.arange(len(TOKENS))), labels


def expected_shape(task, batch, labels):
    rows, width = len(batch.index), batch.token_ids.shape[1]
    return {"text-classification": (rows, len(labels)), "token-classification": (rows, width, len(labels)),
            "pair-classification": (rows, len(labels)), "language-model": (rows, 2)}.get(task.name, (rows,))


def answer(out):
    """What a head answers with: class logits, or (regression, similarity) one value per row."""
    return out.logits if out.logits is not None else out.value


@pytest.mark.parametrize("task,head,pooling,options", list(cases()))
def test_output_shape_finite_and_every_parameter_gets_a_gradient(task, head, pooling, options):
    model, batch, labels = build(task, head, pooling, options)
    model.train()
    out = model(batch)
    assert (out.logits is None) != (out.value is None)  # one kind of answer, in the field named for it
    assert answer(out).shape == expected_shape(task, batch, labels)
    assert torch.isfinite(answer(out)).all() and torch.isfinite(out.loss)
    out.loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no gradient for {missing}"


@pytest.mark.parametrize("task,head,pooling,options", list(cases()))
def test_extra_padding_changes_nothing(task, head, pooling, options):
    model, batch, _ = build(task, head, pooling, options)
    model.eval()
    extra = 3
    labels = batch.labels
    if labels is not None and labels.dim() == 2:  # token labels: padding positions are ignored
        labels = pad(labels, (0, extra), value=IGNORE)
    padded = Batch(pad(batch.token_ids, (0, extra)), batch.lengths, labels, batch.index,
                   WordChars(batch.chars.spellings, pad(batch.chars.index, (0, extra))))
    with torch.no_grad():
        plain, wide = model(batch), model(padded)
    width = batch.token_ids.shape[1]
    logits = answer(wide)[:, :width] if answer(wide).dim() == 3 else answer(wide)
    torch.testing.assert_close(logits, answer(plain))
    torch.testing.assert_close(wide.loss, plain.loss)
    if plain.attention is not None:
        torch.testing.assert_close(wide.attention[..., :width], plain.attention)
        assert (wide.attention[..., width:] == 0).all()


def test_a_head_option_the_head_does_not_take_is_an_error_naming_its_options():
    config = RunConfig(head=HeadConfig(crf=True))
    with pytest.raises(Exception, match=r"head.crf=True: the classification head of text-classification takes no "
                                        r"option crf; its options: pooling, .*dropout"):
        build_model(config, 10, ["a", "b"])
    with pytest.raises(Exception, match="head.name='cosine' is not a head of text-classification; its heads: "
                                        "classification"):
        build_model(dataclasses.replace(config, head=HeadConfig(name="cosine")), 10, ["a"])
