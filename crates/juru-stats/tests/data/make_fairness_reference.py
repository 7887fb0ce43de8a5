"""Reference values for juru_stats::fairness, computed by fairlearn, AIF360, statsmodels and
scikit-learn on the same data. Writes fairness_reference.json beside this script.

    pip install fairlearn==0.15.0 aif360==0.6.1 statsmodels scikit-learn pandas
    python3 make_fairness_reference.py
"""

import json
import os

import numpy as np
import pandas as pd
from aif360.algorithms.preprocessing import Reweighing
from aif360.datasets import BinaryLabelDataset
from aif360.metrics import BinaryLabelDatasetMetric, ClassificationMetric
from fairlearn import metrics as flm
from sklearn.metrics import brier_score_loss
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize, proportions_ztest


def rate(num, den):
    return float(num) / float(den) if den else None


def cells(y, p):
    y, p = np.asarray(y, bool), np.asarray(p, bool)
    return dict(tp=int((y & p).sum()), fp=int((~y & p).sum()), fn=int((y & ~p).sum()), tn=int((~y & ~p).sum()))


def fairlearn_groups(y, p, features):
    """Per group metrics from a fairlearn MetricFrame (labels joined with ' & ')."""
    def npv(yt, yp):
        c = cells(yt, yp)
        return rate(c["tn"], c["tn"] + c["fn"])

    def ppv(yt, yp):
        c = cells(yt, yp)
        return rate(c["tp"], c["tp"] + c["fp"])

    mf = flm.MetricFrame(
        metrics={
            "selection_rate": flm.selection_rate,
            "tpr": flm.true_positive_rate,
            "fpr": flm.false_positive_rate,
            "fnr": flm.false_negative_rate,
            "tnr": flm.true_negative_rate,
            "ppv": ppv,
            "npv": npv,
            "accuracy": lambda a, b: float(np.mean(np.asarray(a) == np.asarray(b))),
        },
        y_true=y,
        y_pred=p,
        sensitive_features=features,
    )
    out = {}
    for key, row in mf.by_group.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        label = " & ".join(f"{name}={value}" for name, value in zip(features.columns, key))
        out[label] = {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
    return out


def fairlearn_disparities(y, p, features):
    return {
        "demographic_parity_difference": flm.demographic_parity_difference(y, p, sensitive_features=features),
        "demographic_parity_ratio": flm.demographic_parity_ratio(y, p, sensitive_features=features),
        "equalized_odds_difference": flm.equalized_odds_difference(y, p, sensitive_features=features),
        "equalized_odds_ratio": flm.equalized_odds_ratio(y, p, sensitive_features=features),
        "equal_opportunity_difference": flm.equal_opportunity_difference(y, p, sensitive_features=features),
    }


def aif360_pair(df, attr, unpriv, priv):
    """AIF360's signed metrics of one group against the reference group (numeric codes)."""
    truth = BinaryLabelDataset(df=df[[attr, "y"]].rename(columns={"y": "label"}), label_names=["label"],
                               protected_attribute_names=[attr])
    pred = truth.copy()
    pred.labels = df[["p"]].to_numpy(dtype=float)
    m = ClassificationMetric(truth, pred, unprivileged_groups=[{attr: unpriv}], privileged_groups=[{attr: priv}])
    return {"average_odds_difference": m.average_odds_difference(), "disparate_impact": m.disparate_impact()}


def aif360_overall(df, attrs):
    truth = BinaryLabelDataset(df=df[attrs + ["y"]].rename(columns={"y": "label"}), label_names=["label"],
                               protected_attribute_names=attrs)
    pred = truth.copy()
    pred.labels = df[["p"]].to_numpy(dtype=float)
    m = ClassificationMetric(truth, pred, unprivileged_groups=[{attrs[0]: 0}], privileged_groups=[{attrs[0]: 1}])
    return {
        "generalized_entropy_index": m.generalized_entropy_index(alpha=2),
        "theil_index": m.theil_index(),
        "smoothed_edf_predictions": BinaryLabelDatasetMetric(pred).smoothed_empirical_differential_fairness(),
        "smoothed_edf_labels": BinaryLabelDatasetMetric(truth).smoothed_empirical_differential_fairness(),
    }


def reweighing(df, attr):
    data = BinaryLabelDataset(df=df[[attr, "y"]].rename(columns={"y": "label"}), label_names=["label"],
                              protected_attribute_names=[attr])
    rw = Reweighing(unprivileged_groups=[{attr: 0}], privileged_groups=[{attr: 1}])
    return [float(w) for w in rw.fit_transform(data).instance_weights]


def generated(seed, n, values, rates, base):
    rng = np.random.default_rng(seed)
    g = rng.choice(len(values), size=n, p=base)
    y = rng.random(n) < 0.4
    flip = rng.random(n)
    p = np.where(y, flip < np.array(rates)[g], flip < np.array(rates)[g] * 0.5)
    scores = np.clip(np.where(p, 0.55, 0.35) + rng.normal(0, 0.15, n), 0, 1)
    return g, y, p, scores


def case_binary():
    g, y, p, scores = generated(11, 600, ["f", "m"], [0.45, 0.75], [0.35, 0.65])
    sex = np.array(["f", "m"])[g]
    features = pd.DataFrame({"sex": sex})
    df = pd.DataFrame({"sex": (sex == "m").astype(float), "y": y.astype(float), "p": p.astype(float)})
    groups = fairlearn_groups(y, p, features)
    for label in groups:
        mask = sex == label.split("=")[1]
        yy, pp, ss = y[mask], p[mask], scores[mask]
        c = cells(yy, pp)
        groups[label]["wilson_selection_rate"] = list(proportion_confint(c["tp"] + c["fp"], len(yy), alpha=0.05, method="wilson"))
        groups[label]["brier"] = float(brier_score_loss(yy, ss))
        bins = np.minimum((ss * 10).astype(int), 9)
        groups[label]["ece"] = float(sum(abs(yy[bins == b].sum() - ss[bins == b].sum()) for b in range(10)) / len(yy))
    fk, fn = cells(y[sex == "f"], p[sex == "f"]), (sex == "f").sum()
    mk, mn = cells(y[sex == "m"], p[sex == "m"]), (sex == "m").sum()
    z, pval = proportions_ztest([fk["tp"] + fk["fp"], mk["tp"] + mk["fp"]], [fn, mn])
    p1, p2 = (fk["tp"] + fk["fp"]) / fn, (mk["tp"] + mk["fp"]) / mn
    needed = NormalIndPower().solve_power(effect_size=proportion_effectsize(p1, p2), alpha=0.05, power=0.8, ratio=1)
    return {
        "name": "binary sex, 600 rows",
        "attributes": {"sex": sex.tolist()},
        "y_true": y.tolist(),
        "y_pred": p.tolist(),
        "scores": scores.tolist(),
        "reference": {"sex": "m"},
        "groups": groups,
        "disparities": {"sex": fairlearn_disparities(y, p, features)},
        "aif360": {"sex=f": aif360_pair(df, "sex", 0.0, 1.0), **aif360_overall(df, ["sex"])},
        "selection_test_f_vs_m": {"z": float(z), "p": float(pval), "needed_per_group": float(needed)},
        "reweighing": reweighing(df, "sex"),
    }


def case_intersectional():
    g, y, p, _ = generated(23, 1500, ["a", "b", "c"], [0.3, 0.55, 0.8], [0.5, 0.3, 0.2])
    race = np.array(["a", "b", "c"])[g]
    sex = np.where(np.random.default_rng(5).random(1500) < 0.45, "f", "m")
    features = pd.DataFrame({"race": race, "sex": sex})
    race_code = pd.Series(race).map({"a": 0.0, "b": 1.0, "c": 2.0}).to_numpy()
    df = pd.DataFrame({"race": race_code, "sex": (sex == "m").astype(float), "y": y.astype(float), "p": p.astype(float)})
    pairs = {}
    for value, code in [("b", 1.0), ("c", 2.0)]:
        pairs[f"race={value}"] = aif360_pair(df, "race", code, 0.0)
    return {
        "name": "race × sex, 1,500 rows",
        "attributes": {"race": race.tolist(), "sex": sex.tolist()},
        "y_true": y.tolist(),
        "y_pred": p.tolist(),
        "reference": {"race": "a", "sex": "m"},
        "groups": {
            **fairlearn_groups(y, p, features[["race"]]),
            **fairlearn_groups(y, p, features[["sex"]]),
            **fairlearn_groups(y, p, features),
        },
        "disparities": {
            "race": fairlearn_disparities(y, p, features[["race"]]),
            "sex": fairlearn_disparities(y, p, features[["sex"]]),
            "race & sex": fairlearn_disparities(y, p, features),
        },
        "aif360": {**pairs, **aif360_overall(df, ["race", "sex"])},
    }


def case_fairlearn_docs():
    y = [0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    p = [0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0]
    groups = list("bbabbcccaacabccbcc")
    features = pd.DataFrame({"group": groups})
    return {
        "name": "fairlearn's documented example",
        "attributes": {"group": groups},
        "y_true": [bool(v) for v in y],
        "y_pred": [bool(v) for v in p],
        "groups": fairlearn_groups(np.array(y), np.array(p), features),
        "disparities": {"group": fairlearn_disparities(np.array(y), np.array(p), features)},
    }


def bh():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.random(20), rng.random(10) * 0.01])
    return {"p": p.tolist(), "adjusted": multipletests(p, method="fdr_bh")[1].tolist()}


def main():
    out = {"cases": [case_fairlearn_docs(), case_binary(), case_intersectional()], "benjamini_hochberg": bh()}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fairness_reference.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
