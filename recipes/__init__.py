"""Recipes by name: one short script each, runnable as `python -m recipes.NAME` or `seqtasks train NAME`."""
from __future__ import annotations

import importlib
from types import ModuleType

from seqtasks.core.errors import ConfigError
from seqtasks.engine import pretrained

RECIPES = ["sst2", "sst5", "trec", "mr", "subj", "cr", "mpqa", "ud-pos", "conll-ner", "sick", "sick-entailment", "stsb", "mrpc",
           "long-range", "compare-pooling",
           # one encoder, several tasks
           "pos-ner", "sick-multi", "sick-sts", "sst-all", "multi-task",
           # your own data, one recipe per kind of task (seqtasks/tasks)
           "text-classification", "token-classification", "pair-classification", "sentence-similarity",
           # your own unlabelled text: pretrain the encoder
           "language-model",
           # encoders the recipes start from (encoder.init=recipe:NAME), pretrained once and cached
           "trec-lm", "sst5-lm", "sst5-lm-ft"]


def load_recipe(name: str) -> ModuleType:
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; recipes: {', '.join(RECIPES)}")
    return importlib.import_module(f"recipes.{name.replace('-', '_')}")


pretrained.load_recipe = load_recipe  # the engine trains encoder.init=recipe:NAME through this (engine/pretrained.py)
