"""sercore.stats: the intervals cover the truth, the paired test keeps its level, Holm, Friedman/Nemenyi."""
import time

import numpy as np
import pandas as pd
import pytest

from sercore import stats
from sercore.metrics import classification_report

RECALLS = np.array([0.45, 0.6, 0.7, 0.85])      # the simulated classifier's true per-class recall


def _simulate(rng, y_true, recalls=RECALLS, n_seeds=1):
    """Predictions (S, N) of a classifier that gets class c right with probability recalls[c] and
    otherwise answers one of the other classes at random (independent per utterance and seed)."""
    K = len(recalls)
    right = rng.random((n_seeds, y_true.size)) < recalls[y_true]
    wrong = (y_true + rng.integers(1, K, (n_seeds, y_true.size))) % K
    return np.where(right, y_true, wrong)


def _test_set(n_per_class=(30, 20, 15, 35), folds=2):
    y = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)] * folds)
    fold = np.repeat(np.arange(folds), sum(n_per_class))
    return y, fold


def test_scores_match_the_headline_metrics_of_classification_report():
    rng = np.random.default_rng(1)
    y, fold = _test_set((9, 1, 5, 7), folds=3)
    pred = _simulate(rng, y)[0]
    reps = [classification_report(y[fold == f], pred[fold == f], list("abcd"))["metrics"] for f in range(3)]
    got = stats.point_estimates(y, pred, fold, n_classes=4)
    for m in stats.METRICS:
        assert got[m] == pytest.approx(np.mean([r[m] for r in reps]), abs=1e-9), m


def test_bootstrap_interval_covers_the_true_metric_about_95_percent_of_the_time():
    """400 test sets drawn from a classifier of known recall: ~95% of the intervals hold the truth."""
    rng = np.random.default_rng(0)
    y, fold = _test_set()
    counts = np.bincount(y[fold == 0], minlength=4)
    truth = {"ua": 100 * RECALLS.mean(), "wa": 100 * (counts * RECALLS).sum() / counts.sum()}
    covered = {m: 0 for m in truth}
    draws = 400
    t0 = time.time()
    for d in range(draws):
        ci = stats.bootstrap_ci(y, _simulate(rng, y), fold, n_classes=4, metrics=list(truth),
                                n_resamples=1000, seed=d)
        for m in truth:
            covered[m] += ci[m]["low"] <= truth[m] <= ci[m]["high"]
    rate = {m: c / draws for m, c in covered.items()}
    print(f"coverage over {draws} draws (n = {y.size}): {rate} in {time.time() - t0:.1f} s")
    for m, r in rate.items():
        assert 0.91 <= r <= 0.98, f"{m}: {100 * r:.1f}% of nominal-95% intervals cover the truth"


def test_seeds_are_a_second_level_and_widen_the_interval():
    rng = np.random.default_rng(2)
    y, fold = _test_set()
    # three seeds that disagree systematically (one much worse): the seed level must show it
    p = np.concatenate([_simulate(rng, y, RECALLS), _simulate(rng, y, RECALLS),
                        _simulate(rng, y, RECALLS * 0.5)])
    two_level = stats.bootstrap_ci(y, p, fold, n_classes=4, metrics=["ua"], n_resamples=1000)["ua"]
    assert two_level["seeds"] == 3 and "second level" in two_level["method"]
    assert two_level["estimate"] == pytest.approx(np.mean([stats.point_estimates(y, q, fold, n_classes=4)["ua"]
                                                           for q in p]))
    one = stats.bootstrap_ci(y, p[0], fold, n_classes=4, metrics=["ua"], n_resamples=1000)["ua"]
    assert (two_level["high"] - two_level["low"]) > 1.5 * (one["high"] - one["low"])


def test_interval_of_a_perfect_classifier_is_the_point_and_singleton_strata_are_fixed():
    y = np.array([0, 0, 1, 2, 2, 2])           # class 1 has one utterance: a stratum that cannot vary
    ci = stats.bootstrap_ci(y, y, n_classes=3, n_resamples=200)
    assert all(c["low"] == c["high"] == c["estimate"] == 100.0 for c in ci.values())
    with pytest.raises(ValueError, match=r"y_pred \(S, N\)"):
        stats.bootstrap_ci(y, y[:-1], n_classes=3)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        stats.bootstrap_ci(y, y, n_classes=2)


def test_paired_test_false_positive_rate_on_identical_methods_is_about_alpha():
    """Two methods of the same recall (independent errors per utterance): the test rejects ~5%."""
    rng = np.random.default_rng(3)
    y, fold = _test_set((15, 10, 10, 15), folds=2)
    draws, rejected = 300, 0
    t0 = time.time()
    for d in range(draws):
        r = stats.paired_test(y, _simulate(rng, y), _simulate(rng, y), fold, n_classes=4, metric="ua",
                              n_resamples=500, seed=d, interval=False)
        rejected += r["p"] <= 0.05
    rate = rejected / draws
    print(f"false-positive rate over {draws} draws (n = {y.size}): {rate:.3f} in {time.time() - t0:.1f} s")
    assert 0.01 <= rate < 0.09, f"paired test rejects {100 * rate:.1f}% of true nulls at alpha 0.05"


def test_paired_test_finds_a_real_difference_and_its_interval_holds_it():
    rng = np.random.default_rng(4)
    y, fold = _test_set()
    good = _simulate(rng, y, np.full(4, 0.8), n_seeds=2)
    bad = _simulate(rng, y, np.full(4, 0.4), n_seeds=2)
    r = stats.paired_test(y, good, bad, fold, n_classes=4, n_resamples=1000)
    assert r["p"] < 0.01 and r["low"] <= r["diff"] <= r["high"] and r["low"] > 20
    with pytest.raises(ValueError, match="same shape"):
        stats.paired_test(y, good, bad[:1], fold, n_classes=4)


def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max with the running max: 0.06
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([]).size == 0


def test_pairwise_matrix_and_prose_never_call_a_tie_real():
    rng = np.random.default_rng(5)
    y, fold = _test_set()
    preds = {"A": _simulate(rng, y, np.full(4, 0.85)), "B": _simulate(rng, y, np.full(4, 0.3)),
             "C": _simulate(rng, y, np.full(4, 0.3))}
    pairs = stats.pairwise(y, preds, fold, n_classes=4, n_resamples=500)
    assert len(pairs) == 3 and (pairs["p_holm"] >= pairs["p"]).all()
    # enough permutations that Holm over the 3 pairs can reject: smallest p (~2 / perms) x 3 << alpha
    assert pairs.attrs["n_permutations"] >= 20 * 3 / 0.05 and 2 / pairs.attrs["n_permutations"] * 3 <= 0.05 / 10
    sig = {(a, b) for a, b, s in zip(pairs["a"], pairs["b"], pairs["significant"]) if s}
    assert sig == {("A", "B"), ("A", "C")}
    m = stats.difference_matrix(pairs)
    assert m.loc["A", "B"].endswith("*") and not m.loc["B", "C"].endswith("*") and m.loc["A", "A"] == ""
    assert m.loc["B", "A"].startswith("-")
    text = stats.interpret(pairs)
    assert "2 difference(s) are significant" in text and "A over B" in text and "A over C" in text
    assert "B over C" not in text and "C over B" not in text and "other 1 difference(s)" in text
    ties = pairs.assign(significant=False)
    assert "cannot be told apart" in stats.interpret(ties)


def test_friedman_nemenyi_ranks_and_critical_difference():
    table = pd.DataFrame({"A": [80, 70, 75, 60], "B": [70, 60, 65, 58], "C": [60, 65, 50, 55]},
                         index=["emodb", "iemocap", "emovo", "urdu"])
    r = stats.friedman_nemenyi(table)
    assert list(r["ranks"].index) == ["A", "B", "C"] and r["ranks"]["A"] == 1.0
    # Demsar (2006), Table 5: q_0.05 = 2.343 for k = 3; CD = q sqrt(k(k+1) / 6N)
    assert r["cd"] == pytest.approx(2.343 * np.sqrt(3 * 4 / 24), abs=2e-3)
    with pytest.raises(ValueError, match=">= 2 corpora"):
        stats.friedman_nemenyi(table.iloc[:1])
    ax = stats.plot_cd(r)
    assert len(ax.texts) >= 3
