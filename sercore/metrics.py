"""Classification metrics of speech emotion recognition, in percent.

- WA (weighted accuracy): accuracy over all test utterances.
- UA (unweighted accuracy): the unweighted mean of per-class recalls.
- macro F1: unweighted mean of per-class F1; weighted F1: mean weighted by support.

Classes absent from both ``y_true`` and ``y_pred`` are left out of the means
(their recall is undefined); a class present in ``y_true`` but never predicted
has precision 0 by convention.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of utterances of true class ``i`` predicted as ``j``; shape (K, K)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} has labels outside [0, {n_classes - 1}]: min {y.min()}, max {y.max()}")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 (fractions) and support per class from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, np.nan)
        denom = precision + np.nan_to_num(recall)
        f1 = np.where(denom > 0, 2 * precision * np.nan_to_num(recall) / denom, 0.0)
    f1 = np.where(support > 0, f1, np.nan)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def classification_report(y_true: Sequence[int], y_pred: Sequence[int],
                          labels: Sequence[str]) -> dict:
    """Everything ``metrics.json`` holds about one evaluation.

    Returns ``{"metrics": {wa, ua, macro_f1, weighted_f1}, "per_class": {label: {...}},
    "confusion": {"labels", "matrix"}}`` with metrics in percent.
    """
    labels = list(labels)
    cm = confusion_matrix(y_true, y_pred, len(labels))
    pc = per_class(cm)
    present = pc["support"] > 0
    n = cm.sum()
    wa = 100.0 * np.trace(cm) / n if n else float("nan")
    ua = 100.0 * float(np.mean(pc["recall"][present])) if present.any() else float("nan")
    macro_f1 = 100.0 * float(np.mean(pc["f1"][present])) if present.any() else float("nan")
    weighted_f1 = (100.0 * float(np.sum(pc["f1"][present] * pc["support"][present]) / n)
                   if n else float("nan"))
    return {
        "metrics": {"wa": float(wa), "ua": ua, "macro_f1": macro_f1, "weighted_f1": weighted_f1},
        "per_class": {
            lab: {"precision": 100.0 * float(pc["precision"][i]),
                  "recall": (100.0 * float(pc["recall"][i])) if present[i] else None,
                  "f1": (100.0 * float(pc["f1"][i])) if present[i] else None,
                  "support": int(pc["support"][i])}
            for i, lab in enumerate(labels)
        },
        "confusion": {"labels": labels, "matrix": cm.tolist()},
    }


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def aggregate(reports: Sequence[dict]) -> dict:
    """Mean ± std of the headline metrics over folds or seeds, and the pooled confusion.

    Returns ``{"mean": {...}, "std": {...}, "n": k, "confusion": summed matrix}``.
    """
    if not reports:
        raise ValueError("aggregate() needs at least one report, got none")
    keys = list(reports[0]["metrics"])
    mean, std = {}, {}
    for k in keys:
        mean[k], std[k] = mean_std([r["metrics"][k] for r in reports])
    labels = reports[0]["confusion"]["labels"]
    cm = np.sum([np.asarray(r["confusion"]["matrix"]) for r in reports], axis=0)
    return {"mean": mean, "std": std, "n": len(reports),
            "confusion": {"labels": labels, "matrix": cm.tolist()}}
