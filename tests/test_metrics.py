"""Metrics against values computed by hand."""
import numpy as np
import pytest

from sercore.metrics import aggregate, classification_report, confusion_matrix, mean_std


def test_imbalanced_case_ua_differs_from_wa():
    # 8 of class 0 (all right), 2 of class 1 (one right): WA = 9/10, UA = (1 + 0.5) / 2
    y_true = [0] * 8 + [1] * 2
    y_pred = [0] * 8 + [1, 0]
    rep = classification_report(y_true, y_pred, ["a", "b"])
    m = rep["metrics"]
    assert m["wa"] == pytest.approx(90.0)
    assert m["ua"] == pytest.approx(75.0)
    # class a: precision 8/9, recall 1, F1 = 16/17; class b: precision 1, recall 0.5, F1 = 2/3
    f1_a, f1_b = 2 * (8 / 9) / (8 / 9 + 1), 2 * 0.5 / 1.5
    assert rep["per_class"]["a"]["precision"] == pytest.approx(100 * 8 / 9)
    assert rep["per_class"]["b"]["recall"] == pytest.approx(50.0)
    assert m["macro_f1"] == pytest.approx(100 * (f1_a + f1_b) / 2)
    assert m["weighted_f1"] == pytest.approx(100 * (8 * f1_a + 2 * f1_b) / 10)
    assert rep["confusion"]["matrix"] == [[8, 0], [1, 1]]


def test_confusion_matrix_counts_and_errors():
    cm = confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], 3)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 0], 3)
    with pytest.raises(ValueError, match="equal length"):
        confusion_matrix([0, 1], [0], 3)


def test_absent_class_is_left_out_of_means():
    # class c never occurs in y_true: UA averages a and b only
    rep = classification_report([0, 1], [0, 0], ["a", "b", "c"])
    assert rep["metrics"]["ua"] == pytest.approx(50.0)
    assert rep["per_class"]["c"]["recall"] is None
    assert rep["per_class"]["b"]["precision"] == 0.0


def test_aggregate_mean_std_over_folds():
    r1 = classification_report([0, 1], [0, 1], ["a", "b"])
    r2 = classification_report([0, 1], [1, 1], ["a", "b"])
    agg = aggregate([r1, r2])
    assert agg["mean"]["wa"] == pytest.approx(75.0)
    assert agg["std"]["wa"] == pytest.approx(np.std([100, 50], ddof=1))
    assert agg["confusion"]["matrix"] == [[1, 1], [0, 2]]
    assert mean_std([3.0]) == (3.0, 0.0)
