"""Expected values for juru-stats' paired tests: McNemar, computed by statsmodels
(`statsmodels.stats.contingency_tables.mcnemar`, exact=True, and exact=False with the continuity
correction) and scipy (`scipy.stats.chi2.sf` on one degree of freedom); Wilcoxon's signed-rank
test by `scipy.stats.wilcoxon` (exact for up to 50 differences without ties or zeros, else the
normal approximation with the tie correction).

Run: python3 make_paired_reference.py > paired_reference.json (pip install statsmodels scipy).
The Rust test reads the JSON and must match to 1e-9 (relative for tiny p-values).
"""
import json
from importlib.metadata import version

import numpy as np
from scipy.stats import chi2
from statsmodels.stats.contingency_tables import mcnemar

rng = np.random.default_rng(20261129)
pairs = [(0, 1), (1, 1), (3, 0), (5, 12), (12, 5), (40, 41), (7, 30), (100, 160), (250, 190), (1000, 1100), (0, 25)]
pairs += [tuple(int(v) for v in rng.integers(0, 400, 2)) for _ in range(10)]

cases = []
for b, c in pairs:
    table = [[10, b], [c, 10]]
    exact = mcnemar(table, exact=True)
    approx = mcnemar(table, exact=False, correction=True)
    cases.append({"b": b, "c": c, "p_exact": float(exact.pvalue),
                  "statistic": float(approx.statistic), "p_chi2": float(approx.pvalue)})

sf = [{"x": float(x), "sf": float(chi2.sf(x, 1))} for x in [1e-6, 0.01, 0.3, 0.5, 1.0, 1.5, 2.0, 3.84, 7.0, 15.0, 40.0, 120.0]]

from scipy.stats import wilcoxon

signed = []
for n, kind in [(5, "exact"), (9, "exact"), (20, "exact"), (50, "exact"), (60, "approx"), (300, "approx"),
                (40, "ties"), (120, "ties"), (80, "zeros")]:
    x = rng.normal(0.3, 1.0, n)
    y = rng.normal(0.0, 1.0, n)
    if kind in ("ties", "zeros"):
        x, y = np.round(x, 1), np.round(y, 1)
    if kind == "zeros":
        y[:7] = x[:7]
    method = "exact" if kind == "exact" else "approx"
    r = wilcoxon(x, y, method=method)
    signed.append({"x": x.tolist(), "y": y.tolist(), "method": method,
                   "statistic": float(r.statistic), "p": float(r.pvalue)})

json.dump({"made_with": {"statsmodels": version("statsmodels"), "scipy": version("scipy")},
           "mcnemar": cases, "chi2_sf": sf, "wilcoxon": signed}, __import__("sys").stdout, indent=1)
