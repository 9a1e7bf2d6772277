"""Golden values for medtune's comparison statistics.

Pinned: scipy 1.17.1, numpy 2.4.6 (pip install scipy==1.17.1).

- Paired sign-flip permutation test: scipy.stats.permutation_test on (lora, base) with
  permutation_type="samples" (which swaps the two scores of a question, i.e. flips the sign of its
  difference), statistic = mean difference, two-sided, exact (n_resamples=inf).
- Percentile bootstrap 95% interval of a mean: scipy.stats.bootstrap(method="percentile") with
  200000 resamples; medtune's own resampling uses a different generator, so tests compare within
  Monte-Carlo error.

Writes Tests/Golden/Evaluator/statistics.json.
Run from the repository root:  /work/venv/bin/python scripts/golden/statistics_golden.py
"""
import importlib.metadata
import json
import os

import numpy as np
from scipy import stats

assert importlib.metadata.version("scipy") == "1.17.1"

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Golden", "Evaluator", "statistics.json")


def mean_difference(x, y, axis=-1):
    return np.mean(x - y, axis=axis)


def main():
    rng = np.random.default_rng(1234)
    cases = [
        {"name": "tutorial-sized, clear gain", "base": rng.uniform(0.60, 0.70, 10), "shift": 0.03, "noise": 0.01},
        {"name": "tutorial-sized, no gain", "base": rng.uniform(0.60, 0.70, 10), "shift": 0.0, "noise": 0.02},
        {"name": "small, mixed", "base": rng.uniform(0.50, 0.80, 6), "shift": 0.01, "noise": 0.03},
        {"name": "fifteen, slight gain", "base": rng.uniform(0.55, 0.75, 15), "shift": 0.008, "noise": 0.02},
    ]
    out = []
    for case in cases:
        base = np.round(case["base"], 4)
        lora = np.round(base + case["shift"] + rng.normal(0, case["noise"], base.size), 4)
        perm = stats.permutation_test((lora, base), mean_difference, permutation_type="samples",
                                      vectorized=True, n_resamples=np.inf, alternative="two-sided")
        boot_base = stats.bootstrap((base,), np.mean, method="percentile", confidence_level=0.95,
                                    n_resamples=200000, rng=np.random.default_rng(5))
        boot_diff = stats.bootstrap((lora - base,), np.mean, method="percentile", confidence_level=0.95,
                                    n_resamples=200000, rng=np.random.default_rng(6))
        out.append({"name": case["name"], "base": base.tolist(), "lora": lora.tolist(),
                    "mean_difference": float(np.mean(lora - base)),
                    "permutation_p": float(perm.pvalue),
                    "bootstrap_base_mean_ci": [float(boot_base.confidence_interval.low), float(boot_base.confidence_interval.high)],
                    "bootstrap_difference_ci": [float(boot_diff.confidence_interval.low), float(boot_diff.confidence_interval.high)]})
    with open(OUT, "w") as f:
        json.dump({"generator": "scripts/golden/statistics_golden.py",
                   "versions": {"scipy": importlib.metadata.version("scipy"), "numpy": np.__version__},
                   "cases": out}, f, indent=1)


if __name__ == "__main__":
    main()
