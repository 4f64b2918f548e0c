"""Reference values for tests/human/test_rater_agreement.cpp.

Reads JSON lines {"a": [int], "b": [int], "x": [float], "y": [float]} and
writes one JSON line per case with scikit-learn's cohen_kappa_score (no,
linear, quadratic weights) of a vs b and scipy.stats.spearmanr of x vs y;
undefined values (nan) are written as null.
"""
import json
import math
import sys
import warnings

from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score


def finite_or_none(value):
    value = float(value)
    return None if math.isnan(value) else value


warnings.simplefilter("ignore")  # constant inputs warn; their nan is what we compare
with open(sys.argv[1]) as cases:
    for line in cases:
        case = json.loads(line)
        out = {
            weights or "none": finite_or_none(cohen_kappa_score(case["a"], case["b"], weights=weights))
            for weights in (None, "linear", "quadratic")
        }
        out["rho"] = finite_or_none(spearmanr(case["x"], case["y"]).correlation)
        print(json.dumps(out))
