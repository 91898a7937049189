"""How raw text becomes tokens when a file holds sentences rather than token lists."""
from __future__ import annotations

import re

WORD = re.compile(r"\w+(?:[-.]\w+)*|'\w+|[^\w\s]")
TOKENIZERS = ("whitespace", "words")


def split_words(text: str) -> list[str]:
    """Words, numbers like 2.5 and hyphenated words kept whole, clitics ('s) apart as GloVe has them,
    every other punctuation mark its own token."""
    return WORD.findall(text)


def tokenize(text: str, tokenizer: str) -> list[str]:
    """"whitespace": the text is pre-tokenised (Kim-style files); "words": raw text (pairs, users' files)."""
    return split_words(text) if tokenizer == "words" else text.split()
