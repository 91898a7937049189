"""Arrow's kernels count and number tokens exactly as the Python definitions do, on the real files."""
from collections import Counter

import pytest

from seqtasks.data.arrow_tokens import count_tokens, flat_tokens, number_forms, token_ids, token_lists
from seqtasks.data.chars import number_forms as python_forms
from seqtasks.data.readers import read_file
from seqtasks.data.resolve import dataset_source, resolve_split
from seqtasks.data.vocab import Vocab


@pytest.mark.parametrize("dataset,split", [("sst2", "train"), ("ud_english_ewt", "dev"), ("conll2003", "dev"),
                                           ("sick", "trial"), ("mr", "all")])
@pytest.mark.parametrize("lowercase", [True, False])
def test_counts_ids_and_forms_equal_the_python_definitions(dataset, split, lowercase, data_dir):
    rows = read_file(dataset_source(dataset).reader, resolve_split(dataset, split).path)
    rows = rows.select(range(0, len(rows), 2))  # a selection, as carved dev splits and folds are
    columns = ["tokens", "tokens_b"] if "tokens_b" in rows.column_names else ["tokens"]
    sentences = [s for c in columns for s in rows[c]]
    assert count_tokens([token_lists(rows, c) for c in columns], lowercase) == Counter(
        t.lower() if lowercase else t for s in sentences for t in s)
    vocab = Vocab.build(sentences[: len(sentences) // 2], lowercase=lowercase)  # leaves words unknown
    tokens, offsets = flat_tokens(token_lists(rows))
    assert token_ids(tokens, vocab.tokens, lowercase).tolist() == [i for s in rows["tokens"] for i in vocab.encode(s)]
    assert offsets.tolist()[-1] == sum(len(s) for s in rows["tokens"])
    forms, distinct = number_forms(tokens)
    assert (forms.tolist(), distinct) == python_forms(list(rows["tokens"]))
