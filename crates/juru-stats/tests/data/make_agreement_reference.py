"""Expected values for juru-stats' agreement statistics, computed by the reference packages:
`krippendorff` (alpha, all four levels, with missing values), scikit-learn (`cohen_kappa_score`,
unweighted / linear / quadratic) and statsmodels (`fleiss_kappa`, method "fleiss").

Run: python3 make_agreement_reference.py > agreement_reference.json
(pip install krippendorff scikit-learn statsmodels numpy). The Rust test reads the JSON and must
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

json.dump({
    "made_by": f"make_agreement_reference.py: krippendorff {version('krippendorff')}, "
               f"scikit-learn {sklearn.__version__}, statsmodels {statsmodels.__version__}, numpy {np.__version__}",
    "alpha": alpha_cases, "cohen": kappa_cases, "fleiss": fleiss_cases,
}, sys.stdout, indent=1)
