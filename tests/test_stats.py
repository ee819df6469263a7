"""sercore.stats: the intervals cover the truth, the paired test keeps its level, Holm, Friedman/Nemenyi."""
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

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


def _every_metric(n_classes: int) -> list[str]:
    return [*stats.HEADLINE_METRICS, *(stats.class_metric(st, k) for st in stats.CLASS_STATS for k in range(n_classes))]


def test_weighted_f1_and_per_class_scores_are_those_of_classification_report():
    """Weighted F1 as the headline (per fold, then the mean); per-class precision, recall and F1 as a
    chapter's per-class table (every fold's utterances pooled)."""
    rng = np.random.default_rng(4)
    y, fold = _test_set((9, 1, 5, 7), folds=3)
    pred = _simulate(rng, y)[0]
    got = stats.point_estimates(y, pred, fold, n_classes=4, metrics=_every_metric(4))
    reps = [classification_report(y[fold == f], pred[fold == f], list("abcd"))["metrics"] for f in range(3)]
    assert got["weighted_f1"] == pytest.approx(np.mean([r["weighted_f1"] for r in reps]), abs=1e-9)
    pooled = classification_report(y, pred, list("abcd"))["per_class"]
    for k, lab in enumerate("abcd"):
        for st in stats.CLASS_STATS:
            assert got[stats.class_metric(st, k)] == pytest.approx(pooled[lab][st], abs=1e-9), (lab, st)
    with pytest.raises(ValueError, match="no vectorised metric 'recall/4'"):
        stats.point_estimates(y, pred, fold, n_classes=4, metrics=["recall/4"])


def test_per_class_and_weighted_f1_intervals_of_a_perfect_classifier_are_the_point():
    y, fold = _test_set((6, 4, 5), folds=2)
    ci = stats.bootstrap_ci(y, y, fold, n_classes=3, metrics=_every_metric(3), n_resamples=200)
    for k in range(3):
        assert ci[stats.class_metric("recall", k)]["low"] == ci[stats.class_metric("recall", k)]["high"] == 100.0
        assert ci[stats.class_metric("precision", k)]["low"] == 100.0 and ci[stats.class_metric("f1", k)]["high"] == 100.0
    assert ci["weighted_f1"]["low"] == ci["weighted_f1"]["high"] == 100.0
    assert "folds pooled" in ci["recall/0"]["method"] and "mean over folds" in ci["weighted_f1"]["method"]


def test_every_interval_comes_from_the_same_resamples_and_holds_its_estimate():
    """Asking for per-class intervals beside the headline ones leaves the headline's interval as it was
    (the same resamples of the same strata); every interval holds its point estimate, and a class recall
    that varies gets an interval of some width."""
    rng = np.random.default_rng(5)
    y, fold = _test_set()
    pred = _simulate(rng, y)[0]
    head = stats.bootstrap_ci(y, pred, fold, n_classes=4, n_resamples=500)
    every = stats.bootstrap_ci(y, pred, fold, n_classes=4, metrics=_every_metric(4), n_resamples=500)
    for m in stats.METRICS:
        assert (every[m]["low"], every[m]["high"]) == (head[m]["low"], head[m]["high"]), m
    for m, iv in every.items():
        assert iv["low"] <= iv["estimate"] <= iv["high"], (m, iv)
    assert every["weighted_f1"]["low"] < every["weighted_f1"]["estimate"] < every["weighted_f1"]["high"]
    assert every["recall/0"]["high"] - every["recall/0"]["low"] > 5.0


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


# Demšar (2006), "Statistical comparisons of classifiers over multiple data sets", JMLR 7, Table 6: AUC of
# C4.5 with and without curtailment (m) and pruning confidence (cf) on 14 UCI data sets. On "voting" the
# paper ranks C4.5+cf (2) above C4.5+m+cf (3) although both print as 0.975 (their unrounded AUCs differ):
# 0.97501 keeps that order, so the mean ranks are the paper's (3.143, 2.000, 2.893, 1.964).
DEMSAR_TABLE6 = pd.DataFrame(
    [[0.763, 0.768, 0.771, 0.798], [0.599, 0.591, 0.590, 0.569], [0.954, 0.971, 0.968, 0.967],
     [0.628, 0.661, 0.654, 0.657], [0.882, 0.888, 0.886, 0.898], [0.936, 0.931, 0.916, 0.931],
     [0.661, 0.668, 0.609, 0.685], [0.583, 0.583, 0.563, 0.625], [0.775, 0.838, 0.866, 0.875],
     [1.000, 1.000, 1.000, 1.000], [0.940, 0.962, 0.965, 0.962], [0.619, 0.666, 0.614, 0.669],
     [0.972, 0.981, 0.97501, 0.975], [0.957, 0.978, 0.946, 0.970]],
    index=["adult (sample)", "breast cancer", "breast cancer wisconsin", "cmc", "ionosphere", "iris",
           "liver disorders", "lung cancer", "lymphography", "mushroom", "primary tumor", "rheum", "voting",
           "wine"],
    columns=["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"])


def test_friedman_nemenyi_reproduces_demsar_2006_section_3_2_4():
    """The worked example of Demšar (2006), Sec. 3.2.4: mean ranks, chi2_F = 9.28, F_F = 3.69,
    Nemenyi CD = 1.25 at alpha 0.05 (q = 2.569) and 1.12 at alpha 0.10 (q = 2.291)."""
    r = stats.friedman_nemenyi(DEMSAR_TABLE6)
    assert r["ranks"].round(3).to_dict() == {"C4.5+m+cf": 1.964, "C4.5+m": 2.0, "C4.5+cf": 2.893, "C4.5": 3.143}
    assert r["statistic"] == pytest.approx(9.28, abs=0.005)
    assert r["iman_davenport"] == pytest.approx(3.69, abs=0.005)
    assert r["p_f"] < 0.05 < sps.f.sf(2.85, 3, 39) + 0.01        # F(3, 39) critical value 2.85: rejected
    assert r["q"] == pytest.approx(2.569, abs=1e-3) and r["cd"] == pytest.approx(1.25, abs=0.005)
    assert (r["n"], r["k"]) == (14, 4)
    # at 0.05 even the best and the worst differ by less than CD (1.179 < 1.25): one clique of all four
    assert r["cliques"] == [["C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5"]]
    r10 = stats.friedman_nemenyi(DEMSAR_TABLE6, alpha=0.10)
    assert r10["q"] == pytest.approx(2.291, abs=1e-3) and r10["cd"] == pytest.approx(1.12, abs=0.005)
    # at 0.10 (the paper's Fig. 1): C4.5 differs from the two curtailed variants; two cliques
    assert r10["cliques"] == [["C4.5+m+cf", "C4.5+m", "C4.5+cf"], ["C4.5+cf", "C4.5"]]


def test_cd_diagram_draws_the_axis_the_cd_bar_the_cliques_and_every_method():
    import matplotlib.pyplot as plt

    r = stats.friedman_nemenyi(DEMSAR_TABLE6, alpha=0.10)
    ax = stats.plot_cd(r, title="Demšar Fig. 1")
    by_gid = {}
    for line in ax.lines:
        by_gid.setdefault(line.get_gid(), []).append(line)
    (bar,) = by_gid["cd-bar"]
    assert np.ptp(bar.get_xdata()) == pytest.approx(r["cd"])
    cl = by_gid["clique"]
    assert len(cl) == 2
    spans = sorted((min(l.get_xdata()), max(l.get_xdata())) for l in cl)
    assert spans[0][0] == pytest.approx(1.964 - 0.04, abs=1e-3) and spans[0][1] == pytest.approx(2.893 + 0.04, abs=1e-3)
    assert spans[1][0] == pytest.approx(2.893 - 0.04, abs=1e-3) and spans[1][1] == pytest.approx(3.143 + 0.04, abs=1e-3)
    methods = by_gid["method"]
    assert len(methods) == 4
    # each method's line starts on the axis at its mean rank
    assert sorted(round(l.get_xdata()[0], 3) for l in methods) == [1.964, 2.0, 2.893, 3.143]
    labels = [t.get_text() for t in ax.texts]
    for name in DEMSAR_TABLE6.columns:
        assert any(t.startswith(name + " (") or t.endswith(") " + name) for t in labels), name
    assert "CD = 1.12" in labels and ax.get_title() == "Demšar Fig. 1"
    plt.close(ax.figure)


def test_friedman_nemenyi_ranks_and_critical_difference():
    table = pd.DataFrame({"A": [80, 70, 75, 60], "B": [70, 60, 65, 58], "C": [60, 65, 50, 55]},
                         index=["emodb", "iemocap", "emovo", "urdu"])
    r = stats.friedman_nemenyi(table)
    assert list(r["ranks"].index) == ["A", "B", "C"] and r["ranks"]["A"] == 1.0
    # Demsar (2006), Table 5: q_0.05 = 2.343 for k = 3; CD = q sqrt(k(k+1) / 6N)
    assert r["cd"] == pytest.approx(2.343 * np.sqrt(3 * 4 / 24), abs=2e-3)
    with pytest.raises(ValueError, match=">= 2 corpora"):
        stats.friedman_nemenyi(table.iloc[:1])
    with pytest.raises(ValueError, match="C on urdu"):
        stats.friedman_nemenyi(table.assign(C=[60, 65, 50, None]))
    # every corpus ranks alike: F_F is infinite, said as None; chi2_F is its maximum N (k - 1)
    same = stats.friedman_nemenyi(table.iloc[[0, 2]])
    assert same["iman_davenport"] is None and same["statistic"] == pytest.approx(2 * 2)
    ax = stats.plot_cd(r)
    assert len(ax.texts) >= 3


def test_p_values_and_intervals_print_as_the_book_reads_them():
    assert stats.fmt_p(0.0004) == "< 0.001" and stats.fmt_p(0.00536) == "0.005" and stats.fmt_p(0.5) == "0.500"
    assert stats.fmt_p(None) == "\u2013" and stats.fmt_p(float("nan")) == "\u2013"
    assert stats.fmt_signed_interval(-0.6, 20.4) == "[-0.6, +20.4]"
    pairs = pd.DataFrame({"a": ["A", "B"], "b": ["B", "C"], "diff": [9.9, -12.0], "low": [-0.6, -20.4],
                          "high": [20.4, -3.1], "p": [0.0002, 0.004], "n": [49, 49], "seeds": [3, 3],
                          "p_holm": [0.0004, 0.008], "significant": [True, True]})
    text = stats.interpret(pairs)
    # never clipped at zero: the interval that crosses 0 reads as it is
    assert "A over B by 9.9 points (95% interval [-0.6, +20.4], Holm p < 0.001)" in text
    # the winner first, its interval turned round with it
    assert "C over B by 12.0 points (95% interval [+3.1, +20.4], Holm p = 0.008)" in text
    shown = stats.pairs_display(pairs)
    assert list(shown["p"]) == ["< 0.001", "0.004"] and list(shown["95% interval"]) == ["[-0.6, +20.4]", "[-20.4, -3.1]"]
