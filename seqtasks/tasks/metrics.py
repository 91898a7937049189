"""Task metrics, computed by scikit-learn; every value is a fraction in [0, 1]."""
from __future__ import annotations

from collections.abc import Sequence

from scipy.stats import pearsonr, spearmanr
from seqeval.metrics import classification_report
from seqeval.metrics import f1_score as entity_f1
from seqeval.metrics import precision_score as entity_precision
from seqeval.metrics import recall_score as entity_recall
from sklearn.metrics import accuracy_score, f1_score


def classification_metrics(gold: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, average="macro", zero_division=0)),
        "n": len(gold),
    }


def token_accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """Share of tokens tagged right (POS); n counts sentences, tokens counts tokens."""
    flat_gold = [tag for sentence in gold for tag in sentence]
    flat_predicted = [tag for sentence in predicted for tag in sentence]
    return {"accuracy": float(accuracy_score(flat_gold, flat_predicted)), "n": len(gold), "tokens": len(flat_gold)}


def entity_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """Entity-level micro precision/recall/F1 as conlleval counts them (seqeval's default mode:
    an I- tag after O or another type starts an entity, so IOB1 and BIO input score alike),
    plus F1 per entity type."""
    per_type = classification_report(gold, predicted, output_dict=True, zero_division=0)
    return {
        "f1": float(entity_f1(gold, predicted, zero_division=0)),
        "precision": float(entity_precision(gold, predicted, zero_division=0)),
        "recall": float(entity_recall(gold, predicted, zero_division=0)),
        "per_type_f1": {name: float(v["f1-score"]) for name, v in per_type.items() if " avg" not in name},
        "n": len(gold),
    }


def similarity_metrics(gold: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """Pearson and Spearman correlation (scipy), and MSE with both sides on the [0, 1] scale the
    readers map every dataset's scores to (so it is comparable across datasets)."""
    mse = sum((g - p) ** 2 for g, p in zip(gold, predicted)) / len(gold)
    return {"pearson": float(pearsonr(gold, predicted)[0]), "spearman": float(spearmanr(gold, predicted)[0]),
            "mse": float(mse), "n": len(gold)}


def paraphrase_metrics(gold: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """Accuracy and F1 of the positive class (label 1 = paraphrase), as MRPC is reported."""
    return {"accuracy": float(accuracy_score(gold, predicted)),
            "f1": float(f1_score(gold, predicted, pos_label=1, zero_division=0)), "n": len(gold)}
