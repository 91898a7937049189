"""Deterministic dev splits and cross-validation folds (seeded, stratified by label)."""
from __future__ import annotations

import numpy as np
from datasets import Dataset
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split


def carve_dev(dataset: Dataset, fraction: float, seed: int, strata: list | None) -> tuple[Dataset, Dataset]:
    """Split off a dev set from train (for datasets published without one), stratified by `strata`
    (one value per row, e.g. the label; None for gold values that have no classes)."""
    rows = np.arange(len(dataset))
    train_rows, dev_rows = train_test_split(rows, test_size=fraction, random_state=seed, stratify=strata)
    return dataset.select(np.sort(train_rows)), dataset.select(np.sort(dev_rows))


def subset(dataset: Dataset, rows: int, seed: int, strata: list | None) -> Dataset:
    """A seeded subset of `rows` rows (stratified by `strata` when given), in file order: the same rows
    for every run of a seed, so a learning curve compares like with like."""
    if rows >= len(dataset):
        return dataset
    kept, _ = train_test_split(np.arange(len(dataset)), train_size=rows, random_state=seed, stratify=strata)
    return dataset.select(np.sort(kept))


def kfold(dataset: Dataset, folds: int, seed: int, strata: list | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, held-out rows) for each of `folds` folds, stratified by `strata` when given."""
    if strata is None:
        return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(dataset))))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(dataset)), strata))
