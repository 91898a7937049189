from seqtasks.tasks.metrics import classification_metrics


def test_classification_metrics_match_hand_counts():
    gold = [0, 0, 1, 1, 2, 2]
    predicted = [0, 1, 1, 1, 2, 0]
    metrics = classification_metrics(gold, predicted)
    assert metrics["accuracy"] == 4 / 6 and metrics["n"] == 6
    # per-class F1: class 0 p=1/2 r=1/2 -> 1/2; class 1 p=2/3 r=1 -> 4/5; class 2 p=1 r=1/2 -> 2/3
    assert abs(metrics["macro_f1"] - (1 / 2 + 4 / 5 + 2 / 3) / 3) < 1e-12


def test_token_accuracy_counts_tokens_not_sentences():
    from seqtasks.tasks.metrics import token_accuracy

    metrics = token_accuracy([["DET", "NOUN"], ["VERB"]], [["DET", "VERB"], ["VERB"]])
    assert metrics == {"accuracy": 2 / 3, "n": 2, "tokens": 3}


def test_entity_metrics_match_hand_counts_on_iob1():
    from seqtasks.tasks.metrics import entity_metrics

    # IOB1 gold: entities (PER 0-1), (PER 2-2), (LOC 4-4), (ORG 6-7) -> 4 gold entities
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC", "O", "I-ORG", "I-ORG"]]
    # predicted (BIO): (PER 0-1) right, (PER 2-3) wrong span, (LOC 4-4) right, ORG missed, (MISC 5-5) spurious
    predicted = [["B-PER", "I-PER", "B-PER", "I-PER", "B-LOC", "B-MISC", "O", "O"]]
    metrics = entity_metrics(gold, predicted)
    precision, recall = 2 / 4, 2 / 4
    assert metrics["precision"] == precision and metrics["recall"] == recall
    assert abs(metrics["f1"] - 2 * precision * recall / (precision + recall)) < 1e-12
    assert metrics["per_type_f1"] == {"LOC": 1.0, "MISC": 0.0, "ORG": 0.0, "PER": 0.5}
