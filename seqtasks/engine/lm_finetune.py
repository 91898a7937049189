"""ULMFiT's middle stage inside any run: `encoder.lm_finetune_epochs=N` fine-tunes encoder.init as a
bidirectional language model on this run's own training text, its own dev text selecting the epoch,
and the run then starts from that encoder.

Only the run's parts are read: a cross-validation fold's language model sees the fold's training rows
and its carved dev rows, never its held-out fold, so each fold and seed gets its own. Each is trained
once into the cache, keyed by the source encoder, the texts and the settings, so a resumed run or a
repeated tune trial takes the cached one.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from datasets import Dataset, concatenate_datasets

from seqtasks.core.checkpoint import strict_json
from seqtasks.core.config import DataConfig, EncoderConfig, HeadConfig, RunConfig, TrainConfig, to_dict
from seqtasks.data.resolve import cache_dir
from seqtasks.engine.prepare import Member, Part, Prepared, chunked, prepare, texts_only
from seqtasks.engine.pretrained import train_cached
from seqtasks.engine.run import RunFolder

# The language-model recipe's own settings (recipes/language_model.py)
MAX_TOKENS, DROPOUT = 100, 0.2


def text_rows(parts: list[Part], pairs: list[bool]) -> Dataset:
    """The parts' texts (a pair's two sides as two rows), labels dropped, cut as the language model reads them."""
    return chunked(concatenate_datasets([texts_only(part.rows, pair) for part, pair in zip(parts, pairs)]), MAX_TOKENS)


def lm_config(encoder: EncoderConfig, train: TrainConfig, lowercase: bool) -> RunConfig:
    """The language-model recipe's settings for lm_finetune_epochs epochs, the first (of more than one)
    with the encoder frozen so the new output layer (this run's training words) learns before the encoder
    moves, as recipes/sst5_lm_ft.py does; the run's seed, device and step cap."""
    return RunConfig(recipe="lm-finetune", task="language-model",
                     data=DataConfig(dataset="", train="", dev="", max_tokens=MAX_TOKENS, lowercase=lowercase),
                     encoder=EncoderConfig(init=encoder.init, freeze_epochs=int(encoder.lm_finetune_epochs > 1),
                                           dropout=DROPOUT, vectors=encoder.vectors,
                                           vectors_vocab=encoder.vectors_vocab),
                     head=HeadConfig(dropout=DROPOUT),
                     train=TrainConfig(epochs=encoder.lm_finetune_epochs, seed=train.seed, device=train.device,
                                       amp=train.amp, threads=train.threads, max_steps=train.max_steps))


def fingerprint(rows: Dataset) -> bytes:
    digest = hashlib.sha256()
    for tokens in rows["tokens"]:
        digest.update(" ".join(tokens).encode() + b"\n")
    return digest.digest()


def lm_finetuned(encoder: EncoderConfig, train: TrainConfig, prepared: Prepared, fit: Callable) -> Path:
    """The cached run of encoder.init fine-tuned as a language model on the prepared members' training text
    (their dev text selecting the epoch), trained first with `fit` (seqtasks/engine/pipeline.py) if absent."""
    members = prepared.members
    source = RunFolder(Path(prepared.transferred["folder"]))
    pairs = [m.task.pair for m in members]
    train_text = text_rows([m.train_part for m in members], pairs)
    dev_text = text_rows([m.dev_part for m in members], pairs)
    config = lm_config(encoder, train, members[0].vocab.lowercase)
    source_record = source.metrics.read_bytes() if source.metrics.is_file() else b""
    settings = to_dict(replace(config, train=replace(config.train, device="", threads=0)))  # where, not what
    key = hashlib.sha256(strict_json(settings, sort_keys=True).encode() + str(source.path.resolve()).encode()
                         + source_record + fingerprint(train_text) + fingerprint(dev_text))
    final = cache_dir() / "lm-finetuned" / f"{source.path.name}-{key.hexdigest()[:12]}"
    tokenizer = members[0].train_part.tokenizer

    def train_lm(folder: Path, resume: bool) -> None:
        parts = [(Part(train_text, "this run's training text", {"split": "train", "examples": len(train_text)},
                       tokenizer),
                  Part(dev_text, "this run's dev text", {"split": "dev", "examples": len(dev_text)}, tokenizer))]
        prepared_lm = prepare([Member("", config)], config.encoder, config.train, parts=parts)
        fit(prepared_lm, config, RunFolder(folder), resume)

    train_cached(final, "lm-finetune", train_lm,
                 f"{encoder.init} as a language model on this run's text, {encoder.lm_finetune_epochs} epochs over "
                 f"{len(train_text)} training and {len(dev_text)} dev texts")
    return final
