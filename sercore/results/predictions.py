"""Per-utterance test predictions: built from a chapter's folds, aligned over seeds, the headline's 95%
intervals drawn from them, and read back beside a collected run's ``metrics.json``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .metrics_json import PREDICTION_COLUMNS


def cv_predictions(cv, method: str, seed: int = 0) -> pd.DataFrame:
    """The test predictions of a :class:`sercore.train.CVResult` as :attr:`ChapterResult.predictions`
    rows: method, seed, fold (the fold's name), row (manifest row), y_true, y_pred (class indices)."""
    parts = []
    for f in cv.folds:
        rep = f["report"]
        n = len(rep["rows"])
        parts.append(pd.DataFrame({"method": [method] * n, "seed": int(seed), "fold": str(f["name"]),
                                   "row": rep["rows"], "y_true": rep["y_true"], "y_pred": rep["y_pred"]}))
    if not parts:
        raise ValueError(f"{method}: the cross-validation result holds no fold, so no test predictions")
    return pd.concat(parts, ignore_index=True)


def records_predictions(records, method: str, seed: int = 0) -> pd.DataFrame:
    """:attr:`ChapterResult.predictions` from per-utterance dicts with fold, row, y_true, y_pred
    (class indices), e.g. what a chapter kept of its headline's cross-validation."""
    df = pd.DataFrame(list(records))
    miss = [c for c in ("fold", "row", "y_true", "y_pred") if c not in df.columns]
    if miss:
        raise ValueError(f"{method}: prediction records lack {miss} (got columns {list(df.columns)})")
    return df.assign(method=method, seed=int(seed), fold=df["fold"].astype(str))[list(PREDICTION_COLUMNS)]


def prediction_arrays(pred: pd.DataFrame, method: str | None = None) -> dict:
    """One method's predictions as the arrays :mod:`sercore.stats` takes, utterances aligned over seeds.

    Returns {"y_true": (N,), "fold": (N,) fold index, "y_pred": (S, N), "seeds": [...], "rows": (N,),
    "folds": fold names}. Every seed must have tested the same (fold, row) utterances, else ValueError.
    """
    if method is not None:
        pred = pred[pred["method"] == method]
    if pred.empty:
        raise ValueError(f"no predictions for method {method!r}")
    seeds = sorted(pred["seed"].unique())
    by_seed = {s: g.sort_values(["fold", "row"], kind="stable").reset_index(drop=True) for s, g in pred.groupby("seed")}
    first = by_seed[seeds[0]]
    key = ["fold", "row", "y_true"]
    for s in seeds[1:]:
        g = by_seed[s]
        if len(g) != len(first) or not (g[key].astype(str).to_numpy() == first[key].astype(str).to_numpy()).all():
            raise ValueError(f"{method or 'predictions'}: seed {s} tested other utterances than seed {seeds[0]} "
                             f"({len(g)} vs {len(first)} rows); seeds can only be pooled on one test set")
    fold_names = list(dict.fromkeys(first["fold"]))
    return {"y_true": first["y_true"].to_numpy(np.int64),
            "fold": first["fold"].map({f: i for i, f in enumerate(fold_names)}).to_numpy(np.int64),
            "y_pred": np.stack([by_seed[s]["y_pred"].to_numpy(np.int64) for s in seeds]),
            "seeds": [int(s) for s in seeds], "rows": first["row"].to_numpy(), "folds": fold_names}


def headline_intervals(pred: pd.DataFrame, n_classes: int, method: str | None = None, **kw) -> dict:
    """95% bootstrap intervals of WA, UA and macro F1 (or the ``metrics`` named) from the headline's
    predictions (:func:`sercore.stats.bootstrap_ci`; folds pooled, strata fold x class, seeds as a second level)."""
    from .. import stats

    a = prediction_arrays(pred, method)
    return stats.bootstrap_ci(a["y_true"], a["y_pred"], a["fold"], n_classes=n_classes, **kw)


def run_intervals(pred: pd.DataFrame, labels, method: str | None = None,
                  metrics=("wa", "ua", "macro_f1", "weighted_f1"), **kw) -> tuple[dict, dict]:
    """Every 95% interval of a run from its headline's test predictions, all from the same resamples:
    ``(intervals, per_class_intervals)`` as ``metrics.json`` holds them, ``{metric: interval}`` for the
    headline ``metrics`` and ``{label: {"precision" | "recall" | "f1": interval}}`` for each class of
    ``labels`` (class index = position) that has test utterances (a class absent from the test set has no
    recall or F1, and so no interval)."""
    from .. import stats

    a = prediction_arrays(pred, method)
    present = sorted(set(a["y_true"].tolist()))
    per = {stats.class_metric(st, k): (labels[k], st) for k in present for st in stats.CLASS_STATS}
    ivs = stats.bootstrap_ci(a["y_true"], a["y_pred"], a["fold"], n_classes=len(labels),
                             metrics=[*metrics, *per], **kw)
    per_class: dict = {}
    for key, (label, st) in per.items():
        per_class.setdefault(str(label), {})[st] = ivs.pop(key)
    return ivs, per_class


def load_predictions(run: dict) -> pd.DataFrame | None:
    """A collected run's per-utterance test predictions (``test_predictions.csv`` beside its
    ``metrics.json``), or None when it kept none. A missing file that metrics.json names is an error."""
    rec = (run.get("extra") or {}).get("predictions")
    if not rec:
        return None
    path = Path(run["_path"]).parent / rec["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{run['_path']} names test predictions {rec['file']} but {path} is missing")
    return pd.read_csv(path, dtype={"fold": str})
