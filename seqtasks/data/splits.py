"""Deterministic dev splits and cross-validation folds (seeded, stratified by label)."""
from __future__ import annotations

import numpy as np
from datasets import Dataset
from sklearn.model_selection import StratifiedKFold, train_test_split


def carve_dev(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Split off a stratified dev set from train (for datasets published without one)."""
    rows = np.arange(len(dataset))
    train_rows, dev_rows = train_test_split(
        rows, test_size=fraction, random_state=seed, stratify=list(dataset["label"])
    )
    return dataset.select(np.sort(train_rows)), dataset.select(np.sort(dev_rows))


def kfold(dataset: Dataset, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, held-out rows) for each of `folds` stratified folds."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(dataset)), list(dataset["label"])))
