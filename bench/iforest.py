#!/usr/bin/python3
"""Isolation Forest baseline for bench/detection-eval.js.

Fits scikit-learn's IsolationForest on benign feature vectors and scores other vectors, so the
autoencoder's ROC AUC can be compared with a standard unsupervised detector on exactly the same
inputs. Runs offline with Debian's packages (apt-get install python3-sklearn python3-numpy), which
install for /usr/bin/python3.

    /usr/bin/python3 bench/iforest.py TRAIN.csv TEST.csv SCORES.csv [--seed N] [--trees N]

TRAIN.csv and TEST.csv: one header line, then one feature vector per line (comma-separated).
SCORES.csv: one anomaly score per TEST row, higher = more anomalous (the negated
`score_samples`, i.e. the mean path length turned into Liu et al.'s s(x, n)). A JSON summary with
timings goes to stdout. Exit status 3 when scikit-learn is missing, so the caller can skip cleanly.
"""
import argparse
import json
import sys
import time

try:
    import numpy as np
    from sklearn import __version__ as sklearn_version
    from sklearn.ensemble import IsolationForest
except ImportError as error:  # the bench skips the baseline
    print(json.dumps({"error": f"scikit-learn not available: {error}"}))
    sys.exit(3)


def read(path):
    # ndmin=2 keeps a single-row file two-dimensional
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("train")
    p.add_argument("test")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--trees", type=int, default=200)
    a = p.parse_args()

    train = read(a.train)
    test = read(a.test)
    t0 = time.perf_counter()
    # defaults otherwise (256 samples per tree, contamination only moves the unused predict cut-off)
    model = IsolationForest(n_estimators=a.trees, random_state=a.seed, n_jobs=1)
    model.fit(train)
    t1 = time.perf_counter()
    scores = -model.score_samples(test) if len(test) else np.zeros(0)
    t2 = time.perf_counter()
    np.savetxt(a.out, scores, fmt="%.8f")
    print(json.dumps({
        "sklearn": sklearn_version,
        "trees": a.trees,
        "trainRows": int(train.shape[0]),
        "testRows": int(test.shape[0]),
        "fitSeconds": t1 - t0,
        "scoreSeconds": t2 - t1,
    }))


if __name__ == "__main__":
    main()
