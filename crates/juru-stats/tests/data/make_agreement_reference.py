"""Expected values for juru-stats' agreement statistics, computed by the reference packages:
`krippendorff` (alpha, all four levels, with missing values), scikit-learn (`cohen_kappa_score`,
unweighted / linear / quadratic), statsmodels (`fleiss_kappa`, method "fleiss") and seqeval
(exact-match entity precision, recall and F1, micro-averaged, on BIO tags).

Run: python3 make_agreement_reference.py > agreement_reference.json
(pip install krippendorff scikit-learn statsmodels seqeval numpy). The Rust test reads the JSON and must
match to 1e-9. Data are generated here with a fixed seed: annotators who mostly agree with a
hidden true label, some of them noisier, some ratings missing.
"""
import json
import sys
from importlib.metadata import version

import krippendorff
import numpy as np
import sklearn
import statsmodels
from sklearn.metrics import cohen_kappa_score
from seqeval.metrics import f1_score, precision_score, recall_score
from statsmodels.stats.inter_rater import fleiss_kappa

rng = np.random.default_rng(20261129)


def noisy_coders(coders, units, categories, noise, missing):
    truth = rng.integers(0, categories, units)
    data = np.empty((coders, units))
    for c in range(coders):
        flip = rng.random(units) < noise[c % len(noise)]
        data[c] = np.where(flip, rng.integers(0, categories, units), truth)
    data[rng.random((coders, units)) < missing] = np.nan
    return data


def as_json(data):
    return [[None if np.isnan(v) else float(v) for v in row] for row in data]


alpha_cases = []
for coders, units, categories, noise, missing, values in [
    (3, 40, 4, [0.1, 0.3, 0.5], 0.0, None),
    (5, 120, 5, [0.2, 0.4], 0.2, None),
    (4, 60, 3, [0.05], 0.35, None),
    (6, 30, 7, [0.6], 0.1, None),
    # Interval data on an uneven scale (so interval and ordinal differ).
    (4, 80, 5, [0.3, 0.1], 0.15, [1.0, 2.0, 4.0, 7.5, 10.0]),
]:
    data = noisy_coders(coders, units, categories, noise, missing)
    if values is not None:
        data = np.where(np.isnan(data), np.nan, np.array(values)[np.nan_to_num(data).astype(int)])
    else:
        data = data + 1.0  # ratings 1..k (ratio needs no zero pairs)
    alpha_cases.append({
        "ratings": as_json(data),
        "alpha": {level: float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
                  for level in ["nominal", "ordinal", "interval", "ratio"]},
    })

kappa_cases = []
for n, k, noise in [(200, 3, 0.3), (57, 2, 0.5), (500, 5, 0.2), (40, 4, 0.7)]:
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < noise, rng.integers(0, k, n), a)
    kappa_cases.append({
        "classes": k, "a": a.tolist(), "b": b.tolist(),
        "kappa": {w: float(cohen_kappa_score(a, b, labels=list(range(k)), weights=None if w == "none" else w))
                  for w in ["none", "linear", "quadratic"]},
    })

fleiss_cases = []
for units, raters, k, noise in [(50, 5, 4, 0.3), (120, 3, 2, 0.4), (30, 8, 6, 0.6)]:
    data = noisy_coders(raters, units, k, [noise], 0.0).astype(int)
    table = np.array([np.bincount(data[:, u], minlength=k) for u in range(units)])
    fleiss_cases.append({"table": table.tolist(), "kappa": float(fleiss_kappa(table, method="fleiss"))})



def random_spans(length, labels):
    """Non-overlapping spans [start, end) over `length` tokens."""
    spans, i = [], 0
    while i < length:
        if rng.random() < 0.25:
            end = min(length, i + int(rng.integers(1, 4)))
            spans.append([i, end, str(rng.choice(labels))])
            i = end
        i += 1
    return spans


def perturb(spans, length, labels):
    out = []
    for s, e, l in spans:
        r = rng.random()
        if r < 0.15:
            continue  # missed
        if r < 0.3:
            l = str(rng.choice(labels))  # wrong label
        elif r < 0.45:
            e = min(length, e + 1)  # boundary off by one
        out.append([s, e, l])
    spans_at = {i for s, e, _ in out for i in range(s, e)}
    for s, e, l in random_spans(length, labels):  # a few extra spans where there are none
        if rng.random() < 0.2 and not any(i in spans_at for i in range(s, e)) and not any(i in spans_at for i in (s - 1, e)):
            out.append([s, e, l])
            spans_at.update(range(s, e))
    return sorted(out)


def bio(spans, length):
    tags = ["O"] * length
    for s, e, l in spans:
        tags[s] = "B-" + l
        for i in range(s + 1, e):
            tags[i] = "I-" + l
    return tags


labels = ["PER", "LOC", "ORG", "PRODUCT"]
docs = []
for _ in range(60):
    length = int(rng.integers(5, 30))
    gold = random_spans(length, labels)
    docs.append({"length": length, "gold": gold, "pred": perturb(gold, length, labels)})
y_true = [bio(d["gold"], d["length"]) for d in docs]
y_pred = [bio(d["pred"], d["length"]) for d in docs]
spans = {"documents": docs, "precision": precision_score(y_true, y_pred), "recall": recall_score(y_true, y_pred),
         "f1": f1_score(y_true, y_pred)}

# Per-class alpha (each class against the rest) and each annotator against the others'
# leave-one-out majority (units with a unique most frequent label) and against gold.
k_classes, coders, units = 4, 5, 150
truth = rng.integers(0, k_classes, units)
labelled = np.empty((coders, units))
for c, noise in enumerate([0.1, 0.2, 0.3, 0.5, 0.9]):
    labelled[c] = np.where(rng.random(units) < noise, rng.integers(0, k_classes, units), truth)
labelled[rng.random((coders, units)) < 0.2] = np.nan
gold = np.where(rng.random(units) < 0.5, truth, -1)  # half the units have a gold label
per_class = [float(krippendorff.alpha(reliability_data=np.where(np.isnan(labelled), np.nan, (labelled == k).astype(float)),
                                      level_of_measurement="nominal")) for k in range(k_classes)]
annotators = []
for c in range(coders):
    cons, vs_gold = [], []
    for u in range(units):
        if np.isnan(labelled[c, u]):
            continue
        others = [int(labelled[o, u]) for o in range(coders) if o != c and not np.isnan(labelled[o, u])]
        counts = np.bincount(others, minlength=k_classes) if others else np.zeros(k_classes, int)
        top = counts.max()
        if top > 0 and (counts == top).sum() == 1:
            cons.append((int(labelled[c, u]), int(counts.argmax())))
        if gold[u] >= 0:
            vs_gold.append((int(labelled[c, u]), int(gold[u])))
    score = lambda pairs: (float(np.mean([a == b for a, b in pairs])),
                           float(cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs], labels=list(range(k_classes)))))
    (ca, ck), (ga, gk) = score(cons), score(vs_gold)
    annotators.append({"with_consensus": len(cons), "consensus_accuracy": ca, "consensus_kappa": ck,
                       "with_gold": len(vs_gold), "gold_accuracy": ga, "gold_kappa": gk})
per_annotator = {"classes": k_classes, "ratings": as_json(labelled), "gold": [None if g < 0 else int(g) for g in gold],
                 "alpha_per_class": per_class, "annotators": annotators}

json.dump({
    "made_by": f"make_agreement_reference.py: krippendorff {version('krippendorff')}, "
               f"scikit-learn {sklearn.__version__}, statsmodels {statsmodels.__version__}, seqeval {version('seqeval')}, numpy {np.__version__}",
    "alpha": alpha_cases, "cohen": kappa_cases, "fleiss": fleiss_cases, "spans": spans,
    "per_annotator": per_annotator,
}, sys.stdout, indent=1)
