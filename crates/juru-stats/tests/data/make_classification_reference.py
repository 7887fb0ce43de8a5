"""Expected values for juru-stats' classification metrics, computed by scikit-learn and numpy.

Run: python3 make_classification_reference.py > classification_reference.json
(scikit-learn 1.x, numpy 2.x). The Rust test reads the JSON and must match to 1e-12.
"""
import json
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def ece(conf, correct, bins):
    # Equal-width bins over (0, 1]: bin b holds b/bins < c <= (b+1)/bins; 0 goes in the first.
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += abs(correct[m].mean() - conf[m].mean()) * m.sum() / len(conf)
    return float(total)


rng = np.random.default_rng(20261129)
cases = []
for n, k, noise in [(50, 2, 0.3), (200, 3, 0.5), (1000, 5, 0.4), (30, 4, 0.9), (500, 2, 0.05)]:
    y_true = rng.integers(0, k, n)
    flip = rng.random(n) < noise
    y_pred = np.where(flip, rng.integers(0, k, n), y_true)
    if k == 4:
        y_pred[y_pred == 3] = 0  # class 3 is never predicted: precision must be 0, not NaN
    conf = np.round(rng.uniform(1.0 / k, 1.0, n), 6)
    correct = y_true == y_pred
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)), zero_division=0)
    cases.append({
        "classes": k,
        "y_true": y_true.tolist(),
        "y_pred": y_pred.tolist(),
        "confidence": conf.tolist(),
        "expected": {
            "accuracy": accuracy_score(y_true, y_pred),
            "precision": p.tolist(),
            "recall": r.tolist(),
            "f1": f.tolist(),
            "support": s.tolist(),
            "macro_f1": f1_score(y_true, y_pred, labels=list(range(k)), average="macro", zero_division=0),
            "weighted_f1": f1_score(y_true, y_pred, labels=list(range(k)), average="weighted", zero_division=0),
            "confusion": confusion_matrix(y_true, y_pred, labels=list(range(k))).tolist(),
            "ece_10": ece(conf, correct, 10),
            "ece_15": ece(conf, correct, 15),
        },
    })
import sklearn
print(json.dumps({"generator": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}", "cases": cases}))
