"""Task metrics, computed by scikit-learn; every value is a fraction in [0, 1]."""
from __future__ import annotations

from typing import Sequence

from sklearn.metrics import accuracy_score, f1_score


def classification_metrics(gold: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, average="macro", zero_division=0)),
        "n": len(gold),
    }
