from seqtasks.metrics import classification_metrics


def test_classification_metrics_match_hand_counts():
    gold = [0, 0, 1, 1, 2, 2]
    predicted = [0, 1, 1, 1, 2, 0]
    metrics = classification_metrics(gold, predicted)
    assert metrics["accuracy"] == 4 / 6 and metrics["n"] == 6
    # per-class F1: class 0 p=1/2 r=1/2 -> 1/2; class 1 p=2/3 r=1 -> 4/5; class 2 p=1 r=1/2 -> 2/3
    assert abs(metrics["macro_f1"] - (1 / 2 + 4 / 5 + 2 / 3) / 3) < 1e-12
