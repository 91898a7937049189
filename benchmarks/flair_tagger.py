"""flair 0.15's SequenceTagger in the shape `seqtasks bench --set head.crf=true` measures: 100d trainable
word embeddings (OneHotEmbeddings, no character features: flair's CharacterEmbeddings download their
dictionary at first use, and this machine is offline), a BiLSTM of 256 per direction, a CRF, batch 32,
2 threads, on the ud-pos training file, trained through flair's own forward_loss / backward / step.
Runs in its own venv (benchmarks/run_flair.sh); prints one JSON object.

usage: python flair_tagger.py TRAIN.conllu DEV.conllu [STEPS]
"""
import gzip
import json
import random
import sys
import time

import torch
from flair.data import Corpus, Sentence
from flair.datasets import SentenceDataset
from flair.embeddings import OneHotEmbeddings
from flair.models import SequenceTagger

torch.set_num_threads(2)
torch.manual_seed(13)
random.seed(13)


def read_conllu(path):
    """(words, UPOS tags) per sentence; multiword ranges and empty nodes skipped, as seqtasks reads them."""
    sentences, words, tags = [], [], []
    for line in (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            if words:
                sentences.append((words, tags))
            words, tags = [], []
        elif not line.startswith("#"):
            fields = line.split("\t")
            if "-" not in fields[0] and "." not in fields[0]:
                words.append(fields[1])
                tags.append(fields[3])
    if words:
        sentences.append((words, tags))
    return sentences


def flair_sentences(rows):
    out = []
    for words, tags in rows:
        sentence = Sentence(words)
        for token, tag in zip(sentence, tags):
            token.add_label("upos", tag)
        out.append(sentence)
    return out


train_rows, dev_rows = read_conllu(sys.argv[1]), read_conllu(sys.argv[2])
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 60
train, dev = flair_sentences(train_rows), flair_sentences(dev_rows)
corpus = Corpus(train=SentenceDataset(train), dev=SentenceDataset(dev), test=SentenceDataset(dev[:10]),
                sample_missing_splits=False)
dictionary = corpus.make_label_dictionary("upos", add_unk=False)
embeddings = OneHotEmbeddings.from_corpus(corpus, field="text", embedding_length=100, min_freq=1)
tagger = SequenceTagger(hidden_size=256, embeddings=embeddings, tag_dictionary=dictionary, tag_type="upos",
                        use_crf=True, use_rnn=True, rnn_layers=1, reproject_embeddings=False)
optimizer = torch.optim.AdamW(tagger.parameters(), lr=1e-3)
order = list(range(len(train)))
random.shuffle(order)
batches = [[train[i] for i in order[s:s + 32]] for s in range(0, len(order), 32)]


def train_steps(chosen):
    tagger.train()
    tokens = 0
    for batch in chosen:
        loss, count = tagger.forward_loss(batch)
        optimizer.zero_grad()
        (loss / count).backward()
        torch.nn.utils.clip_grad_norm_(tagger.parameters(), 5.0)
        optimizer.step()
        tokens += sum(len(s) for s in batch)
    return tokens


train_steps(batches[:5])  # warm-up
started = time.perf_counter()
tokens = train_steps(batches[5:5 + steps])
train_seconds = time.perf_counter() - started

tagger.eval()
started = time.perf_counter()
with torch.no_grad():
    tagger.predict(dev, mini_batch_size=256, label_name="predicted")
predict_seconds = time.perf_counter() - started
print(json.dumps({"toolkit": "flair", "version": __import__("flair").__version__, "torch": torch.__version__,
                  "train_tokens_per_s": tokens / train_seconds, "train_steps": steps,
                  "predict_tokens_per_s": sum(len(s) for s in dev) / predict_seconds, "predict_batch": 256,
                  "parameters": sum(p.numel() for p in tagger.parameters())}))
